import { describe, expect, it } from 'vitest'
import { workdirRefusal } from './docker-errors.ts'

/** A dockerode failure as docker-modem throws it. */
const engine = (statusCode: number, message: string) =>
  Object.assign(new Error(message), { statusCode, json: { message } })

describe('workdirRefusal', () => {
  it.each([
    [
      '/etc/passwd/x',
      'lstat /var/lib/docker/overlay2/3a02/merged/etc/passwd/x: not a directory',
      'not a directory',
    ],
    [
      '/sys/x',
      'failed to create shim task: OCI runtime create failed: mkdir /sys/x: read-only file system: unknown',
      'read-only file system',
    ],
    ['/dev/null', 'Cannot mkdir: /dev/null is not a directory', 'not a directory'],
    ['/dev/null/w', 'Cannot mkdir: /dev/null is not a directory', 'not a directory'],
  ])('names the workdir %s, never the host path', (workdir, message, reason) => {
    const refusal = workdirRefusal(engine(500, message), workdir)
    expect(refusal).toMatchObject({
      kind: 'bad_request',
      code: 'bad_request',
      details: [{ path: 'workdir', message: reason }],
    })
    expect(refusal!.message).toBe(
      `workdir: '${workdir}' cannot be made in the worker's image (${reason})`,
    )
    expect(refusal!.message).not.toContain('overlay2')
  })

  it('leaves failures that are not about the workdir alone', () => {
    expect(workdirRefusal(engine(500, 'No such image: x'), '/workspace')).toBeUndefined()
    expect(
      workdirRefusal(engine(500, 'open /workspace-other: permission denied'), '/workspace'),
    ).toBeUndefined()
    expect(
      workdirRefusal(
        engine(500, 'mkdir /var/lib/docker/tmp: no space left on device'),
        '/workspace',
      ),
    ).toBeUndefined()
  })
})
