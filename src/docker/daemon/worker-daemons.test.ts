import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { dialFake } from './fake-daemon.fixtures.ts'
import { encodeFrame, FRAME, jsonFrame } from './frames.ts'
import { DaemonDirError, WorkerDaemons } from './worker-daemons.ts'

const dirs: string[] = []
const opened: WorkerDaemons[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-dmn-'))
  dirs.push(dir)
  return dir
}
const open = async (dir: string, limits = {}) => {
  const d = await WorkerDaemons.open({ dir, limits })
  opened.push(d)
  return d
}
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('WorkerDaemons.open', () => {
  it('makes the base directory 0700 and a 32-byte key 0600 that instances share', async () => {
    const dir = join(tempDir(), 'daemons')
    const [a, b] = await Promise.all([open(dir), open(dir)])
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    const key = statSync(join(dir, 'key'))
    expect(key.mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'key')).length).toBe(32)
    expect(a.secretOf('w-1')).toBe(b.secretOf('w-1'))
    expect(a.secretOf('w-1')).toMatch(/^[0-9a-f]{64}$/)
    expect(a.secretOf('w-1')).not.toBe(a.secretOf('w-2'))
    expect(a.dirOf('w-1')).toMatch(new RegExp(`^${dir}/[0-9a-f]{16}$`))
  })

  it('refuses a base directory others may write', async () => {
    const dir = join(tempDir(), 'daemons')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    await expect(open(dir)).rejects.toThrow(DaemonDirError)
    await expect(open(dir)).rejects.toThrow(/writable by others/)
  })

  it('refuses a directory too deep for a socket path', async () => {
    await expect(open(join(tempDir(), 'x'.repeat(90)))).rejects.toThrow(/too long/)
  })
})

describe('ContainerDaemon', () => {
  it('listens 0666 in a 0755 directory and pools a daemon that says the right secret', async () => {
    const daemons = await open(tempDir())
    const c = (await daemons.listen('w-a'))!
    expect(statSync(c.dir).mode & 0o777).toBe(0o755)
    expect(statSync(c.socketPath).mode & 0o777).toBe(0o666)
    const fake = dialFake(c.socketPath, { secret: daemons.secretOf('w-a') })
    expect(await fake.welcome).toEqual({ v: 1 })
    const conn = await c.acquire(5000)
    expect(conn?.alive).toBe(true)
    expect(c.live).toBe(1)
  })

  it('closes a daemon with another container’s secret, or another version', async () => {
    const daemons = await open(tempDir())
    const c = (await daemons.listen('w-a'))!
    const wrong = dialFake(c.socketPath, { secret: daemons.secretOf('w-b') })
    expect(await wrong.welcome).toBeUndefined()
    const v2 = dialFake(c.socketPath, { secret: daemons.secretOf('w-a'), v: 2 })
    expect(await v2.welcome).toBeUndefined()
    expect(c.refused).toBe(2)
    expect(c.live).toBe(0)
    expect(await c.acquire(0)).toBeUndefined()
  })

  it('logs refused HELLOs once in a while, not once each, and cuts what they said', async () => {
    const lines: { msg: string; fields?: object }[] = []
    const log = (msg: string, fields?: object) => void lines.push({ msg, fields })
    const logger = { debug: log, info: log, warn: log, error: log }
    const d = await WorkerDaemons.open({ dir: tempDir(), logger })
    opened.push(d)
    const c = (await d.listen('w-a'))!
    for (let i = 0; i < 50; i++) {
      const s = connect(c.socketPath).on('error', () => undefined)
      s.write(jsonFrame(FRAME.HELLO, { v: 'v'.repeat(10_000), secret: 'x' }))
      await new Promise<void>((r) => s.once('close', () => r()))
    }
    expect(c.refused).toBe(50)
    const refusals = lines.filter((l) => l.msg === 'worker daemon refused')
    expect(refusals.length).toBeLessThanOrEqual(1)
    expect(JSON.stringify(refusals).length).toBeLessThan(1000)
  })

  it('closes a connection that sends no HELLO in time, and those past the pending cap', async () => {
    const daemons = await open(tempDir(), { helloTimeoutMs: 100, maxPending: 2 })
    const c = (await daemons.listen('w-a'))!
    const silent = [0, 1, 2].map(() => connect(c.socketPath).on('error', () => undefined))
    const closed = silent.map((s) => new Promise<void>((r) => s.once('close', () => r())))
    // The third is over the cap: closed at once, the other two when their HELLO is late.
    await Promise.all(closed)
    expect(c.live).toBe(0)
  })

  it('closes a connection that sends a frame while idle, or an oversized one', async () => {
    const daemons = await open(tempDir())
    const c = (await daemons.listen('w-a'))!
    const secret = daemons.secretOf('w-a')
    const a = dialFake(c.socketPath, { secret })
    await a.welcome
    a.socket.write(encodeFrame(FRAME.STDOUT, Buffer.from('out of turn')))
    await a.closed
    const b = dialFake(c.socketPath, { secret })
    await b.welcome
    const huge = Buffer.alloc(5)
    huge.writeUInt32BE(2 * 1024 * 1024, 0)
    huge.writeUInt8(FRAME.END, 4)
    b.socket.write(huge)
    await b.closed
    expect(c.live).toBe(0)
    expect(await c.acquire(0)).toBeUndefined()
  })

  it('holds no more than its bounds of what a daemon sends: idle connections, HELLO, bytes', async () => {
    const daemons = await open(tempDir(), { helloTimeoutMs: 60_000, maxIdle: 3 })
    const c = (await daemons.listen('w-a'))!
    const secret = daemons.secretOf('w-a')
    // Idle connections past maxIdle are closed: each is a descriptor of this process.
    const many = Array.from({ length: 10 }, () => dialFake(c.socketPath, { secret }))
    await Promise.all(many.map((f) => f.welcome))
    await Promise.all(many.slice(3).map((f) => f.closed))
    expect(c.live).toBe(3)
    // A HELLO is small: one announced at 1 MiB is refused once more than its bound is in,
    // not held until its timeout.
    const big = connect(c.socketPath).on('error', () => undefined)
    const head = Buffer.alloc(5)
    head.writeUInt32BE(1024 * 1024, 0)
    head.writeUInt8(FRAME.HELLO, 4)
    big.write(Buffer.concat([head, Buffer.alloc(64 * 1024)]))
    await new Promise<void>((r) => big.once('close', () => r()))
    // An idle connection that starts a frame is closed at its first bytes, not buffered.
    const idle = many[0]!
    idle.socket.write(head)
    await idle.closed
    expect(c.live).toBe(2)
  })

  it('hands a connection to a request already waiting for one', async () => {
    const daemons = await open(tempDir())
    const c = (await daemons.listen('w-a'))!
    const waiting = c.acquire(10_000)
    dialFake(c.socketPath, { secret: daemons.secretOf('w-a') })
    const conn = await waiting
    expect(conn?.alive).toBe(true)
    // A frame that comes before WELCOME was never sent: the HELLO alone is taken.
    const early = connect(c.socketPath)
    early.write(
      Buffer.concat([
        jsonFrame(FRAME.HELLO, { v: 1, secret: daemons.secretOf('w-a') }),
        jsonFrame(FRAME.END, { ok: true }),
      ]),
    )
    await new Promise<void>((r) => early.once('close', () => r()))
    expect(c.live).toBe(1)
  })

  it('closes, when removed, the connections still waiting for their HELLO', async () => {
    const daemons = await open(tempDir(), { helloTimeoutMs: 600_000 })
    const c = (await daemons.listen('w-a'))!
    const silent = connect(c.socketPath).on('error', () => undefined)
    const closed = new Promise<void>((r) => silent.once('close', () => r()))
    // Connections are taken in order: once a later one is welcomed, this one is pending.
    const other = dialFake(c.socketPath, { secret: daemons.secretOf('w-a') })
    await other.welcome
    // Before, removing waited for its HELLO's timeout.
    await daemons.remove('w-a')
    await closed
  })

  it('removes the directory of a removed container', async () => {
    const daemons = await open(tempDir())
    const c = (await daemons.listen('w-a'))!
    await daemons.remove('w-a')
    expect(() => statSync(c.dir)).toThrow()
  })
})
