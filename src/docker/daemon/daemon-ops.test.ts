import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { noopLogger } from '../../core/logger.ts'
import { NotFoundError, PayloadTooLargeError, UnavailableError } from '../../core/errors.ts'
import { dialFake, type FakeRequest } from './fake-daemon.fixtures.ts'
import { daemonExec } from './daemon-exec.ts'
import { DaemonDeniedError, daemonGetFile, daemonPutFile } from './daemon-files.ts'
import { daemonPing } from './daemon-ping.ts'
import { daemonTerminal } from './daemon-terminal.ts'
import { FRAME, parseJson } from './frames.ts'
import { WorkerDaemons } from './worker-daemons.ts'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** A pool for one container whose fake daemon answers with `serve`; one connection of it. */
const connected = async (serve: (req: FakeRequest) => Promise<void> | void) => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-dops-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  const daemons = await WorkerDaemons.open({ dir })
  cleanup.push(() => daemons.close())
  const c = (await daemons.listen('w-x'))!
  const fake = dialFake(c.socketPath, { secret: daemons.secretOf('w-x') }, serve)
  const conn = (await c.acquire(5000))!
  return { conn, c, fake }
}

const hooks = (killed: string[] = []) => ({
  killTag: async (tag: string) => void killed.push(tag),
  logger: noopLogger,
  containerId: 'c1',
})

describe('daemonExec', () => {
  it('sends the request, feeds stdin and collects the output in order', async () => {
    let open: Record<string, unknown> = {}
    let input = ''
    const { conn } = await connected(async (req) => {
      open = req.open
      for (;;) {
        const f = await req.next()
        if (f.type === FRAME.STDIN && f.payload.length === 0) break
        input += f.payload.toString()
      }
      req.stdout(`got ${input}`)
      req.stderr('warn\n')
      req.end({ ok: true, exitCode: 3, signal: null, timedOut: false, cancelled: false })
    })
    const seen: string[] = []
    const result = await daemonExec(
      conn,
      {
        argv: ['cat'],
        env: { A: 'b' },
        workdir: '/tmp',
        stdin: 'hello',
        timeoutMs: 30_000,
        onOutput: (s, c) => seen.push(`${s}:${c}`),
      },
      'tag1',
      hooks(),
    )
    expect(open).toMatchObject({ op: 'exec', argv: ['cat'], env: { A: 'b' }, workdir: '/tmp' })
    expect(open).toMatchObject({ stdin: true, timeoutMs: 35_000, tag: 'tag1' })
    expect(result).toMatchObject({
      exitCode: 3,
      stdout: 'got hello',
      stderr: 'warn\n',
      timedOut: false,
    })
    expect(seen).toEqual(['stdout:got hello', 'stderr:warn\n'])
    expect(conn.busy).toBe(false)
  })

  it('cuts output at maxOutputBytes with the notice, as the Engine path does', async () => {
    const { conn } = await connected((req) => {
      expect(req.open.maxOutputBytes).toBe(5)
      req.stdout('abcde')
      req.end({ ok: true, exitCode: 0 })
    })
    const result = await daemonExec(conn, { argv: ['x'], maxOutputBytes: 4 }, 't', hooks())
    expect(result).toMatchObject({ stdout: 'abcd', truncated: true, exitCode: 0 })
  })

  it('gives a start failure the shape of the Engine path: 127, empty stdout, message on stderr', async () => {
    const { conn } = await connected((req) =>
      req.end({
        ok: false,
        error: { code: 'start_failed', message: 'spawnerd: nope: not found' },
        exitCode: 127,
      }),
    )
    const seen: string[] = []
    const result = await daemonExec(
      conn,
      { argv: ['nope'], onOutput: (s, c) => seen.push(`${s}:${c}`) },
      't',
      hooks(),
    )
    expect(result).toMatchObject({
      exitCode: 127,
      stdout: '',
      stderr: 'spawnerd: nope: not found\n',
    })
    expect(seen).toEqual(['stderr:spawnerd: nope: not found\n'])
  })

  it('cancels on timeout: exit 124, timedOut, what was printed kept', async () => {
    const { conn } = await connected(async (req) => {
      req.stdout('partial')
      const f = await req.next()
      expect(f.type).toBe(FRAME.CONTROL)
      expect(parseJson(f.payload)).toEqual({ cancel: true })
      req.end({ ok: true, exitCode: 137, signal: 'KILL', cancelled: true })
    })
    const result = await daemonExec(conn, { argv: ['sleep', '100'], timeoutMs: 50 }, 't', hooks())
    expect(result).toMatchObject({ exitCode: 124, timedOut: true, stdout: 'partial' })
  })

  it('cancels on abort: exit 130', async () => {
    const ac = new AbortController()
    const { conn } = await connected(async (req) => {
      ac.abort()
      await req.next()
      req.end({ ok: true, exitCode: 137, cancelled: true })
    })
    const result = await daemonExec(conn, { argv: ['sleep', '9'], signal: ac.signal }, 't', hooks())
    expect(result).toMatchObject({ exitCode: 130, timedOut: false })
  })

  it('kills the tagged processes through the fallback when the daemon goes mid-command', async () => {
    const killed: string[] = []
    const { conn, fake } = await connected(() => void fake.socket.destroy())
    await expect(daemonExec(conn, { argv: ['sleep', '9'] }, 'tag9', hooks(killed))).rejects.toThrow(
      UnavailableError,
    )
    expect(killed).toEqual(['tag9'])
  })
})

describe('daemon files', () => {
  const op = { file: '/w/a.txt', roots: ['/w'], timeoutMs: 10_000 }

  it('reads a file from STDOUT frames', async () => {
    const { conn } = await connected((req) => {
      expect(req.open).toEqual({ op: 'read', path: '/w/a.txt', roots: ['/w'], maxBytes: 10 })
      req.stdout('hello ')
      req.stdout(new Uint8Array([0, 255]))
      req.end({ ok: true, size: 8 })
    })
    const bytes = await daemonGetFile(conn, op, 10)
    expect(Buffer.from(bytes)).toEqual(
      Buffer.concat([Buffer.from('hello '), Buffer.from([0, 255])]),
    )
  })

  it.each([
    ['not_found', NotFoundError, 'no such file: /w/a.txt'],
    ['path_not_allowed', Error, 'resolves outside the allowed roots'],
    ['too_large', PayloadTooLargeError, 'larger than 10 bytes'],
    ['not_a_file', Error, 'is not a regular file'],
    ['permission_denied', DaemonDeniedError, 'was denied /w/a.txt'],
  ] as const)('maps %s as the Engine path does', async (code, cls, text) => {
    const { conn } = await connected((req) =>
      req.open.op === 'stat'
        ? req.end({ ok: true, type: 'file', size: 0, mode: 0o644, mtimeMs: 0 })
        : req.end({ ok: false, error: { code, message: `${req.open.path}: ${code}` } }),
    )
    const err = await daemonGetFile(conn, op, 10).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(cls)
    expect((err as Error).message).toContain(text)
    if (code === 'path_not_allowed') {
      expect(err).toMatchObject({ code: 'path_not_allowed', details: [{ path: 'path' }] })
    }
  })

  it('tells a directory from another non-file with a stat', async () => {
    const { conn } = await connected((req) =>
      req.open.op === 'stat'
        ? req.end({ ok: true, type: 'dir', size: 0, mode: 0o755, mtimeMs: 0 })
        : req.end({ ok: false, error: { code: 'not_a_file', message: 'not a regular file' } }),
    )
    await expect(daemonGetFile(conn, op, 10)).rejects.toThrow('/w/a.txt is a directory')
  })

  it('writes a file as STDIN frames ended by the empty one', async () => {
    let got = Buffer.alloc(0)
    const { conn } = await connected(async (req) => {
      expect(req.open).toMatchObject({ op: 'write', path: '/w/a.txt', mode: 0o600, mkdirs: true })
      expect(req.open.size).toBe(3 * 1024 * 1024)
      for (;;) {
        const f = await req.next()
        if (f.payload.length === 0) break
        got = Buffer.concat([got, f.payload])
      }
      req.end({ ok: true })
    })
    const content = new Uint8Array(3 * 1024 * 1024).fill(9)
    await daemonPutFile(conn, op, content, 0o600)
    expect(got.equals(Buffer.from(content))).toBe(true)
  })

  it('drops a connection whose daemon does not answer in time: helper_timeout', async () => {
    const { conn, fake } = await connected(() => undefined)
    const err = await daemonGetFile(conn, { ...op, timeoutMs: 50 }, 10).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'helper_timeout' })
    await fake.closed
  })
})

describe('daemonPing', () => {
  it('reads who the daemon is', async () => {
    const { conn } = await connected((req) =>
      req.end({ ok: true, pid: 42, version: 'spawnerd 1.0.0', rssBytes: 4_300_000, extra: 1 }),
    )
    expect(await daemonPing(conn)).toEqual({
      pid: 42,
      version: 'spawnerd 1.0.0',
      rssBytes: 4_300_000,
    })
  })
})

describe('daemonTerminal', () => {
  it('gives up on a terminal whose session never starts, dropping the connection', async () => {
    const { conn, c } = await connected(() => undefined)
    const opening = daemonTerminal(
      { conn, daemon: c },
      { cols: 80, rows: 24, onOutput: () => undefined },
      { logger: noopLogger, containerId: 'c1', startMs: 200 },
    )
    await expect(opening).rejects.toThrow(UnavailableError)
    expect(conn.alive).toBe(false)
  })
})
