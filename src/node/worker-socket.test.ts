import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { unixFetch } from '../cli/unix-fetch.ts'
import { WorkerSocket } from './worker-socket.ts'

describe('WorkerSocket', () => {
  const base = mkdtempSync(join(tmpdir(), 'ws-wsock-'))
  const socket = new WorkerSocket(join(base, 'run', 'test'))
  afterAll(async () => {
    await socket.close()
    rmSync(base, { recursive: true, force: true })
  })

  it('has its directory before it listens (a container may mount it first), then serves the app', async () => {
    expect(await socket.dirFor()).toBe(socket.dir)
    expect(existsSync(socket.dir)).toBe(true)
    const path = await socket.listen((req) => new Response(`seen ${new URL(req.url).pathname}`))
    expect(path).toBe(join(socket.dir, 'api.sock'))
    expect(await (await unixFetch(path)('http://localhost/v1/whoami')).text()).toBe(
      'seen /v1/whoami',
    )
    await expect(socket.listen(() => new Response())).rejects.toThrow(/already listening/)
  })
})
