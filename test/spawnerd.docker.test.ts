import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WORKER_IMAGE } from './setup/docker.global.ts'

/**
 * The worker image's entrypoint starts spawnerd, which dials the socket this test listens on in
 * a host directory mounted read-only at /run/workers-spawner/daemon: the test plays the runtime
 * with a frame codec of its own (docs/daemon-protocol.md).
 */

const LABEL = 'workers-spawner.test.spawnerd'
const RUN = randomBytes(4).toString('hex')
const docker = new Dockerode()

const T = { HELLO: 1, WELCOME: 2, OPEN: 3, STDIN: 4, STDOUT: 5, STDERR: 6, END: 8, EVENT: 9 }

interface Frame {
  type: number
  payload: Buffer
}

const encode = (type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer => {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const head = Buffer.alloc(5)
  head.writeUInt32BE(body.length + 1, 0)
  head[4] = type
  return Buffer.concat([head, body])
}

/** One connection from the daemon, its frames read in order. */
class Peer {
  private buf = Buffer.alloc(0)
  private frames: Frame[] = []
  private waiting: Array<{ ok: (f: Frame) => void; fail: (e: Error) => void }> = []
  closed = false

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      while (this.buf.length >= 4) {
        const length = this.buf.readUInt32BE(0)
        if (this.buf.length < 4 + length) break
        this.push({ type: this.buf[4]!, payload: this.buf.subarray(5, 4 + length) })
        this.buf = this.buf.subarray(4 + length)
      }
    })
    socket.on('close', () => {
      this.closed = true
      for (const w of this.waiting.splice(0)) w.fail(new Error('connection closed'))
    })
    socket.on('error', () => {})
  }

  private push(f: Frame) {
    const w = this.waiting.shift()
    if (w) w.ok(f)
    else this.frames.push(f)
  }

  next(): Promise<Frame> {
    const f = this.frames.shift()
    if (f) return Promise.resolve(f)
    if (this.closed) return Promise.reject(new Error('connection closed'))
    return new Promise((ok, fail) => this.waiting.push({ ok, fail }))
  }

  send(type: number, payload?: Buffer | string) {
    this.socket.write(encode(type, payload))
  }

  /** Sends an OPEN (and stdin frames) and reads the answer up to END. */
  async request(open: object, stdin: string[] = []) {
    this.send(T.OPEN, JSON.stringify(open))
    for (const s of stdin) this.send(T.STDIN, s)
    let stdout = ''
    let stderr = ''
    for (;;) {
      const f = await this.next()
      if (f.type === T.STDOUT) stdout += f.payload.toString()
      else if (f.type === T.STDERR) stderr += f.payload.toString()
      else if (f.type === T.END) {
        return { stdout, stderr, end: JSON.parse(f.payload.toString()) as Record<string, unknown> }
      }
    }
  }
}

/** A runtime's listening side for one container: a socket in a directory of its own. */
class RuntimeSide {
  dir = ''
  server!: Server
  hellos: Array<{ v: number; secret: string; pid: number; version: string }> = []
  private idle: Peer[] = []
  private wanted: Array<(p: Peer) => void> = []
  private helloWaiters: Array<() => void> = []

  constructor(readonly secret: string) {}

  async listen() {
    this.dir = await mkdtemp(join(tmpdir(), 'spawnerd-test-'))
    await chmod(this.dir, 0o755)
    this.server = createServer((socket) => void this.accept(new Peer(socket)))
    await new Promise<void>((ok) => this.server.listen(join(this.dir, 'd.sock'), ok))
    await chmod(join(this.dir, 'd.sock'), 0o666)
  }

  private async accept(peer: Peer) {
    const hello = await peer.next().catch(() => undefined)
    if (!hello || hello.type !== T.HELLO) return peer.socket.destroy()
    const h = JSON.parse(hello.payload.toString())
    this.hellos.push(h)
    for (const w of this.helloWaiters.splice(0)) w()
    // A wrong secret or version: closed, never welcomed.
    if (h.v !== 1 || h.secret !== this.secret) return peer.socket.destroy()
    peer.send(T.WELCOME, JSON.stringify({ v: 1 }))
    const w = this.wanted.shift()
    if (w) w(peer)
    else this.idle.push(peer)
  }

  /** An idle, welcomed connection that is still open (waits for the daemon to dial one). */
  take(): Promise<Peer> {
    let p = this.idle.shift()
    while (p?.closed) p = this.idle.shift()
    if (p) return Promise.resolve(p)
    return new Promise((ok) => this.wanted.push(ok))
  }

  /** Runs one request on an idle connection, then gives the connection back, as a runtime does. */
  async request(open: object, stdin: string[] = []) {
    const peer = await this.take()
    const answer = await peer.request(open, stdin)
    if (this.wanted.length > 0) this.wanted.shift()!(peer)
    else this.idle.push(peer)
    return answer
  }

  /** Waits until the daemon has said HELLO at least n times. */
  async helloCount(n: number) {
    while (this.hellos.length < n) await new Promise<void>((ok) => this.helloWaiters.push(ok))
  }

  async close() {
    for (const p of this.idle) p.socket.destroy()
    await new Promise<void>((ok) => this.server.close(() => ok()))
    await rm(this.dir, { recursive: true, force: true })
  }
}

const startWorker = async (side: RuntimeSide, secret: string) => {
  const c = await docker.createContainer({
    Image: WORKER_IMAGE,
    name: `ws-spawnerd-${RUN}-${randomBytes(3).toString('hex')}`,
    Env: [`SPAWNERD_SECRET=${secret}`],
    Labels: { [LABEL]: RUN },
    HostConfig: {
      Binds: [`${side.dir}:/run/workers-spawner/daemon:ro`],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
    },
  })
  await c.start()
  return c
}

const removeOurs = async () => {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } })
  await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })))
}

describe('spawnerd in the worker image', () => {
  const secret = randomBytes(32).toString('hex')
  const good = new RuntimeSide(secret)
  const bad = new RuntimeSide(secret)

  let workerId = ''

  beforeAll(async () => {
    await good.listen()
    await bad.listen()
    workerId = (await startWorker(good, secret)).id
    // This container was given another secret: its runtime refuses it.
    await startWorker(bad, randomBytes(32).toString('hex'))
  })

  afterAll(async () => {
    await removeOurs()
    await good.close()
    await bad.close()
  })

  it('is started by the entrypoint as uid 1000 and runs commands as uid 1000', async () => {
    const hello = good.hellos[0]!
    expect(hello).toMatchObject({ v: 1, secret, version: expect.stringMatching(/^spawnerd /) })
    const id = await good.request({ op: 'exec', argv: ['id', '-u'] })
    expect(id.end).toMatchObject({ ok: true, exitCode: 0 })
    expect(id.stdout).toBe('1000\n')
    const status = await good.request({ op: 'read', path: `/proc/${hello.pid}/status` })
    expect(status.stdout).toMatch(/^Name:\s+spawnerd$/m)
    expect(status.stdout).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m)
    expect(status.stdout).toMatch(/^CapEff:\s+0+$/m)
    // Commands never inherit the daemon's secret, nor signals the entrypoint's shell ignored.
    const env = await good.request({ op: 'exec', argv: ['env'] })
    expect(env.stdout).not.toContain('SPAWNERD_')
    const own = await good.request({ op: 'exec', argv: ['grep', '^SigIgn', '/proc/self/status'] })
    expect(own.stdout).toMatch(/^SigIgn:\s+0+$/m)
  })

  it('keeps retrying a runtime that refuses its secret, and is never welcomed', async () => {
    await bad.helloCount(2)
    expect(bad.hellos.every((h) => h.secret !== secret)).toBe(true)
  })

  it('reports its idle memory', async () => {
    const ping = await good.request({ op: 'ping' })
    expect(ping.end).toMatchObject({ ok: true, version: expect.stringMatching(/^spawnerd /) })
    const rss = ping.end.rssBytes as number
    // Every process but the measuring shell and its children: the entrypoint's and the daemon.
    const line =
      "me=$$; for s in /proc/[0-9]*/status; do awk -v me=$me '/^Name:/{n=$2} /^Pid:/{p=$2} " +
      "/^PPid:/{pp=$2} /^VmRSS:/{r=$2} END{ if (p!=me && pp!=me) print p, n, r+0 }' $s 2>/dev/null; done"
    const ps = await good.request({ op: 'exec', argv: ['sh', '-c', line] })
    const procs = ps.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([pid, name, kb]) => ({ pid: Number(pid), name, kb: Number(kb) }))
    const totalKb = procs.reduce((sum, p) => sum + p.kb, 0)
    console.log(
      `spawnerd idle RSS ${(rss / 1024 / 1024).toFixed(1)} MiB; the worker's processes at idle: ` +
        `${procs.map((p) => `${p.name} ${p.kb} KiB`).join(', ')}; total ${(totalKb / 1024).toFixed(1)} MiB`,
    )
    expect(rss).toBeGreaterThan(0)
    expect(rss).toBeLessThanOrEqual(10 * 1000 * 1000)
    expect(procs.some((p) => p.name === 'spawnerd')).toBe(true)
  })

  it('cannot write into the runtime directory', async () => {
    const touch = await good.request({
      op: 'exec',
      argv: [
        'sh',
        '-c',
        'touch /run/workers-spawner/daemon/planted; rm -f /run/workers-spawner/daemon/d.sock',
      ],
    })
    expect(touch.stderr).toMatch(/Read-only file system/)
    const write = await good.request(
      { op: 'write', path: '/run/workers-spawner/daemon/planted', size: 1 },
      ['x', ''],
    )
    expect(write.end).toMatchObject({ ok: false })
    expect(await readdir(good.dir)).toEqual(['d.sock'])
  })

  it('is restarted by the entrypoint when it dies, and logs on the container log', async () => {
    const first = good.hellos.at(-1)!.pid
    const seen = good.hellos.length
    // The agent may kill it (same user): the entrypoint starts it again, and it dials back.
    await (
      await good.take()
    )
      .request({ op: 'exec', argv: ['kill', '-KILL', String(first)] })
      .catch(() => {})
    await good.helloCount(seen + 1)
    while (good.hellos.at(-1)!.pid === first) await good.helloCount(good.hellos.length + 1)
    const again = await good.request({ op: 'exec', argv: ['id', '-u'] })
    expect(again.stdout).toBe('1000\n')
    const logs = await docker.getContainer(workerId).logs({ stdout: true, stderr: true })
    expect(logs.toString()).toMatch(/spawnerd: spawnerd \d+\.\d+\.\d+, pid \d+, uid 1000/)
  })
})
