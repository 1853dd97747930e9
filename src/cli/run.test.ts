import { describe, expect, it } from 'vitest'
import { commandTable, type CommandName } from '../core/commands.ts'
import { EXIT, parseArgs, run, type CliIo } from './run.ts'

interface Call {
  method: string
  url: string
  /** The Unix socket it went through, for `unix://` URLs. */
  socket?: string
  body?: unknown
  auth?: string
}

/** A fake service: records calls, answers with `reply(call)`. */
const setup = (
  reply: (c: Call) => { status?: number; json?: unknown; bytes?: Uint8Array } = () => ({
    json: {},
  }),
  env: Record<string, string> = {},
) => {
  const calls: Call[] = []
  let out = ''
  let err = ''
  const fetch = (socket?: string) =>
    (async (url: string, init: RequestInit) => {
      const call: Call = {
        method: init.method ?? 'GET',
        url,
        ...(socket ? { socket } : {}),
        auth: (init.headers as Record<string, string>).authorization,
        ...(typeof init.body === 'string'
          ? { body: JSON.parse(init.body) }
          : init.body
            ? { body: init.body }
            : {}),
      }
      calls.push(call)
      const r = reply(call)
      if (r.bytes)
        return new Response(r.bytes as Uint8Array<ArrayBuffer>, { status: r.status ?? 200 })
      return new Response(JSON.stringify(r.json ?? {}), {
        status: r.status ?? 200,
        headers: { 'content-type': 'application/json' },
      })
    }) as typeof globalThis.fetch
  const io: CliIo = {
    env: {
      ORCHESTRATOR_URL: 'http://spawner:8080',
      ORCHESTRATOR_TOKEN: 'h.eyJzdWIiOiJ3LTAwMDAwMDAwMDAwMDAwMDEifQ.s',
      ORCHESTRATOR_ALLOWED_TOOLS: 'respond,spawn,send,status,logs,delete,file',
      ...env,
    },
    fetch: fetch(),
    unixFetch: (socket) => fetch(socket),
    stdout: (t) => (out += typeof t === 'string' ? t : new TextDecoder().decode(t)),
    stderr: (t) => (err += t),
    readFile: async (p) => new TextEncoder().encode(`file:${p}`),
    readStdin: async () => new TextEncoder().encode('from-stdin'),
    readToken: async () => undefined,
  }
  return { io, calls, out: () => out, err: () => err }
}

describe('orchestrator CLI', () => {
  it('parses commands, flags, repeated flags and what follows --', () => {
    const p = parseArgs([
      'spawn',
      '--agent',
      'shell',
      '--cap',
      'git',
      '--cap=node',
      '--json',
      '--',
      'x',
    ])
    expect(p.command).toBe('spawn')
    expect(p.flags.get('agent')).toEqual(['shell'])
    expect(p.flags.get('cap')).toEqual(['git', 'node'])
    expect(p.json).toBe(true)
    expect(p.rest).toEqual(['x'])
  })

  it.each([
    [['--help'], EXIT.ok, /Exit codes: 0 ok, 2 usage, 3 permission denied, 4 not found/],
    [['send', '--help'], EXIT.ok, /orchestrator send <worker> --prompt P/],
    [[], EXIT.usage, /Commands:/],
  ])('help %j exits %i', async (argv, code, text) => {
    const t = setup()
    expect(await run(argv, t.io)).toBe(code)
    expect(t.out()).toMatch(text)
    expect(t.calls).toEqual([])
  })

  it.each([
    [['bogus']],
    [['send']],
    [['send', 'w-1']],
    [['send', 'w-1', '--prompt', 'p', '--', 'ls']],
    [['spawn']],
    [['logs', 'w-1', '--tail', 'x']],
    [['file', 'copy', 'w-1', '/tmp/x']],
    [['status', '--colour', 'red']],
    [['respond']],
  ])('usage error %j exits 2 without calling the service', async (argv) => {
    const t = setup()
    expect(await run(argv, t.io)).toBe(EXIT.usage)
    expect(t.err()).toMatch(/^orchestrator: /)
    expect(t.calls).toEqual([])
  })

  it('fails early (exit 3) for a tool not in ORCHESTRATOR_ALLOWED_TOOLS', async () => {
    const t = setup(undefined, { ORCHESTRATOR_ALLOWED_TOOLS: 'status' })
    expect(await run(['delete', 'w-2'], t.io)).toBe(EXIT.denied)
    expect(t.err()).toContain("lacks the tool 'delete'")
    expect(t.calls).toEqual([])
  })

  it('takes the tool each command needs from the command table', async () => {
    const all = [...new Set(Object.values(commandTable).map((c) => c.permission))]
    const cases: [string[], CommandName][] = [
      [['respond', 'hi'], 'respond'],
      [['spawn', '--agent', 'shell'], 'create'],
      [['send', 'w-2', '--prompt', 'p'], 'send_command'],
      [['status', 'w-2'], 'status'],
      [['logs', 'w-2'], 'logs'],
      [['delete', 'w-2'], 'delete'],
      [['file', 'put', 'w-2', '/x'], 'send_file'],
      [['file', 'get', 'w-2', '/x'], 'read_file'],
    ]
    for (const [argv, command] of cases) {
      const tool = commandTable[command].permission
      const t = setup(undefined, {
        ORCHESTRATOR_ALLOWED_TOOLS: all.filter((x) => x !== tool).join(','),
      })
      expect(await run(argv, t.io), argv.join(' ')).toBe(EXIT.denied)
      expect(t.err()).toContain(`lacks the tool '${tool}'`)
      expect(t.calls).toEqual([])
    }
  })

  it('maps server refusals to exit codes: 401/403 → 3, 404 → 4, other → 1', async () => {
    for (const [status, code] of [
      [403, EXIT.denied],
      [401, EXIT.denied],
      [404, EXIT.notFound],
      [500, EXIT.other],
    ] as const) {
      const t = setup(() => ({
        status,
        json: { error: { code: 'x', message: `refused ${status}` } },
      }))
      expect(await run(['status', 'w-2'], t.io)).toBe(code)
      expect(t.err()).toContain(`refused ${status}`)
    }
  })

  it('prints machine output with --json, for results and errors', async () => {
    const ok = setup(() => ({
      json: { workerId: 'w-2', state: 'running', agent: 'shell', expiresAt: 'x' },
    }))
    expect(await run(['status', 'w-2', '--json'], ok.io)).toBe(0)
    expect(JSON.parse(ok.out())).toEqual({
      ok: true,
      result: { workerId: 'w-2', state: 'running', agent: 'shell', expiresAt: 'x' },
    })
    const bad = setup(() => ({
      status: 403,
      json: { error: { code: 'not_your_worker', message: 'no' } },
    }))
    expect(await run(['status', 'w-9', '--json'], bad.io)).toBe(EXIT.denied)
    expect(JSON.parse(bad.out())).toEqual({
      ok: false,
      error: { code: 'not_your_worker', message: 'no' },
    })
  })

  it('sends each command to its route with the worker token', async () => {
    const t = setup((c) => {
      if (c.url.endsWith('/v1/whoami'))
        return { json: { workerId: 'w-1', agent: 'shell', tools: ['send'], parentId: null } }
      if (c.method === 'POST' && c.url.endsWith('/v1/workers'))
        return { json: { workerId: 'w-child' } }
      if (c.url.includes('/commands'))
        return {
          json: {
            exitCode: 0,
            stdout: 'out\n',
            stderr: '',
            reply: c.body && (c.body as { prompt?: string }).prompt ? { text: 'said' } : undefined,
          },
        }
      if (c.method === 'DELETE')
        return { json: { workerId: 'w-child', deleted: true, children: ['w-grand'] } }
      if (c.url.includes('/logs')) return { json: { lines: [{ text: 'a' }, { text: 'b' }] } }
      if (c.method === 'GET' && c.url.includes('/files'))
        return { bytes: new Uint8Array([104, 105]) }
      if (c.method === 'PUT') return { json: { path: '/workspace/x', size: 10 } }
      return { json: { workerId: 'w-1', published: true } }
    })
    expect(await run(['whoami'], t.io)).toBe(0)
    expect(await run(['tools'], t.io)).toBe(0)
    expect(await run(['respond', 'half', 'way'], t.io)).toBe(0)
    expect(
      await run(
        ['spawn', '--agent', 'shell', '--cap', 'git', '--tool', 'status', '--prompt', 'hi'],
        t.io,
      ),
    ).toBe(0)
    expect(await run(['send', 'w-child', '--', 'ls', '-la'], t.io)).toBe(0)
    expect(await run(['logs', 'w-child', '--tail', '5'], t.io)).toBe(0)
    expect(await run(['file', 'put', 'w-child', '/workspace/x', '--from', 'a.txt'], t.io)).toBe(0)
    expect(await run(['file', 'get', 'w-child', '/workspace/x'], t.io)).toBe(0)
    expect(await run(['delete', 'w-child'], t.io)).toBe(0)
    expect(t.calls.map((c) => `${c.method} ${c.url.replace('http://spawner:8080', '')}`)).toEqual([
      'GET /v1/whoami',
      'GET /v1/whoami',
      'POST /v1/workers/w-0000000000000001/respond',
      'POST /v1/workers',
      'POST /v1/workers/w-child/commands',
      'POST /v1/workers/w-child/commands',
      'GET /v1/workers/w-child/logs?tail=5',
      'PUT /v1/workers/w-child/files?path=%2Fworkspace%2Fx',
      'GET /v1/workers/w-child/files?path=%2Fworkspace%2Fx',
      'DELETE /v1/workers/w-child',
    ])
    expect(t.calls.every((c) => c.auth?.startsWith('Bearer h.'))).toBe(true)
    expect(t.calls[2]!.body).toEqual({ text: 'half way' })
    expect(t.calls[3]!.body).toEqual({
      agent: 'shell',
      capabilities: ['git'],
      allowedTools: ['status'],
    })
    expect(t.calls[5]!.body).toEqual({ argv: ['ls', '-la'] })
    expect(t.out()).toContain('said')
    expect(t.out()).toContain('deleted w-child and 1 sub-workers')
  })

  it('speaks HTTP over the Unix socket of a unix:// ORCHESTRATOR_URL', async () => {
    const t = setup(
      () => ({ json: { workerId: 'w-1', agent: 'shell', tools: [], parentId: null } }),
      {
        ORCHESTRATOR_URL: 'unix:///run/workers-spawner/api/api.sock',
      },
    )
    expect(await run(['whoami'], t.io)).toBe(0)
    expect(t.calls).toMatchObject([
      {
        method: 'GET',
        url: 'http://localhost/v1/whoami',
        socket: '/run/workers-spawner/api/api.sock',
        auth: expect.stringMatching(/^Bearer h\./),
      },
    ])
    const bad = setup(undefined, { ORCHESTRATOR_URL: 'unix:' })
    expect(await run(['whoami'], bad.io)).toBe(EXIT.other)
    expect(bad.err()).toMatch(/names no socket path/)
  })

  it('prefers the token file the service keeps current', async () => {
    const t = setup()
    t.io.readToken = async () => 'fresh.token.value'
    await run(['status', 'w-2'], t.io)
    expect(t.calls[0]!.auth).toBe('Bearer fresh.token.value')
  })
})
