import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, startHarness, type Harness } from './support/harness.ts'

// Configs the fuzzer found the Docker Engine failing at start (a 502 `docker_error`): each is
// the caller's input, so a 400 naming the field.
describe('create refuses what no container can start with', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it.each([
    ['a workdir under a file of the image', { workdir: '/etc/passwd/x' }, 'workdir'],
    ['a workdir that is a file of the image', { workdir: '/dev/null' }, 'workdir'],
    ['a workdir on a read-only file system', { workdir: '/sys/x' }, 'workdir'],
    ['a workdir under /proc', { workdir: '/proc/x' }, 'workdir'],
    ['a workdir name over 255 bytes', { workdir: `/w/${'p'.repeat(256)}` }, 'workdir'],
    ['a workdir 300 levels deep', { workdir: `/x/${'a/'.repeat(300)}b` }, 'workdir'],
    ['a NUL in an env value', { env: { A: 'x\0y' } }, 'env.A'],
    ['a lone surrogate in the workdir', { workdir: '/workspace/\ud800' }, 'workdir'],
    ['a lone surrogate in an env value', { env: { A: 'x\udc00' } }, 'env.A'],
    [
      'an env value of 3 MiB (execve cannot pass it: the container exited at once)',
      { env: { A: 'x'.repeat(3 * 1024 * 1024) } },
      'env.A',
    ],
  ])('%s', async (_name, config, field) => {
    const res = await api(h.app).post('/v1/workers', {
      agent: 'shell',
      labels: h.runLabel,
      ...config,
    })
    expect(res.status, res.text).toBe(400)
    expect(res.json.error.code).toBe('bad_request')
    expect(res.json.error.message).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `))
    expect(await h.containers()).toEqual([])
  })
})

describe('list refuses a label filter no label can match', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it('a 3 MiB value: 400, not the engine answering 431 to its filter (a 502)', async () => {
    const res = await api(h.app).get(`/v1/workers?label=a=${'x'.repeat(3 * 1024 * 1024)}`)
    expect(res.status, res.text.slice(0, 300)).toBe(400)
    expect(res.json.error).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/^invalid list input: labels\.a: /),
    })
  })
})

describe('create and files with values the engine API carries badly', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ maxBodyBytes: 8 * 1024 * 1024 })
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it('creates a worker with 600 KB of env that URL-encodes to 1.4 MB (the create URL once carried it: 431)', async () => {
    const env = Object.fromEntries([...'ABCDEF'].map((k) => [k, '{"a": "b"} '.repeat(9000)]))
    const res = await api(h.app).post('/v1/workers', { agent: 'shell', labels: h.runLabel, env })
    expect(res.status, res.text.slice(0, 300)).toBe(201)
    const out = await api(h.app).post(`/v1/workers/${res.json.workerId}/commands`, {
      shell: 'printf %s "$F" | wc -c',
    })
    expect(out.json.stdout.trim()).toBe(String(env.F!.length))
  })

  it('refuses a file path with a lone surrogate with 400 (no file system name holds one)', async () => {
    // HTTP query decoding never yields one; a JSON payload (Redis) does.
    const created = await api(h.app).post('/v1/workers', { agent: 'shell', labels: h.runLabel })
    const read = h.service.readFile({
      workerId: created.json.workerId,
      path: '/tmp/\ud800',
      encoding: 'base64',
    })
    await expect(read).rejects.toMatchObject({
      kind: 'bad_request',
      message: expect.stringMatching(/^path: /),
    })
  })
})
