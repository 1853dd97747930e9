import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { listenInSocketDir } from './socket-dir.ts'

describe('listenInSocketDir', () => {
  const servers: Server[] = []
  const dirs: string[] = []
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-sock-'))
    dirs.push(dir)
    return dir
  }
  const server = () => {
    const s = createServer((c) => c.destroy())
    servers.push(s)
    return s
  }
  afterEach(async () => {
    for (const s of servers.splice(0))
      await new Promise<void>((resolve) => s.close(() => resolve()))
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('creates the directory 0755 and the socket 0666', async () => {
    const dir = join(tempDir(), 'run', 'instance')
    const path = await listenInSocketDir(server(), dir)
    expect(path).toBe(join(dir, 'api.sock'))
    expect(statSync(dir).mode & 0o777).toBe(0o755)
    expect(statSync(path).isSocket()).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o666)
  })

  it('replaces the socket of a process that died', async () => {
    const dir = tempDir()
    const path = join(dir, 'api.sock')
    // A process that exits without closing leaves its socket file behind.
    execFileSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ])
    expect(statSync(path).isSocket()).toBe(true)
    await listenInSocketDir(server(), dir)
    expect(statSync(path).mode & 0o777).toBe(0o666)
  })

  it('refuses a socket a live process answers on, and a directory holding anything else', async () => {
    const dir = tempDir()
    await listenInSocketDir(server(), dir)
    await expect(listenInSocketDir(server(), dir)).rejects.toThrow(
      /another process serves this socket/,
    )
    const shared = tempDir()
    writeFileSync(join(shared, 'secret.txt'), 'x')
    mkdirSync(join(shared, 'sub'))
    await expect(listenInSocketDir(server(), shared)).rejects.toThrow(
      /must hold only api.sock; it holds/,
    )
  })

  it('refuses a path too long for a Unix socket', async () => {
    await expect(listenInSocketDir(server(), join(tempDir(), 'x'.repeat(120)))).rejects.toThrow(
      /longer than a Unix socket path/,
    )
  })
})
