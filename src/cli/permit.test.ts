import { describe, expect, it } from 'vitest'
import { run, type CliIo } from './run.ts'
import { readToolCall } from './permit-formats.ts'

const WORKER = 'w-0000000000000001'
const TOKEN = `h.${btoa(JSON.stringify({ sub: WORKER }))}.s`

/** Answers for each call in turn: a JSON reply, a status with an error, or a network failure. */
type Answer = { json: unknown } | { status: number; code: string } | 'down'

/** `orchestrator permit` with `payload` on stdin against a fake service answering `answers`. */
const permit = async (payload: unknown, answers: Answer[], args: string[] = []) => {
  const bodies: Record<string, unknown>[] = []
  let clock = 0
  let out = ''
  let err = ''
  const fetch = (async (url: string, init: RequestInit) => {
    expect(url).toBe(`http://spawner/v1/workers/${WORKER}/permissions`)
    bodies.push(JSON.parse(String(init.body)))
    const a = answers.shift() ?? 'down'
    if (a === 'down') throw new Error('connect ECONNREFUSED')
    if ('json' in a) return new Response(JSON.stringify(a.json), { status: 200 })
    return new Response(JSON.stringify({ error: { code: a.code, message: `no: ${a.code}` } }), {
      status: a.status,
    })
  }) as typeof globalThis.fetch
  const io: CliIo = {
    env: {
      ORCHESTRATOR_URL: 'http://spawner',
      ORCHESTRATOR_TOKEN: TOKEN,
      ORCHESTRATOR_ALLOWED_TOOLS: 'permit',
    },
    fetch,
    unixFetch: () => fetch,
    stdout: (t) => (out += String(t)),
    stderr: (t) => (err += t),
    readFile: async () => new Uint8Array(),
    readStdin: async () =>
      new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    readToken: async () => undefined,
    sleep: async (ms) => void (clock += ms),
    now: () => clock,
  }
  const code = await run(['permit', ...args], io)
  return { code, out, err, bodies }
}

const CALL = { tool_name: 'Bash', tool_input: { command: 'ls' }, tool_use_id: 'toolu_01' }

describe('orchestrator permit', () => {
  it("allows with exit 0 and Claude Code's allow decision", async () => {
    const r = await permit(CALL, [
      { json: { requestId: 'toolu_01', decision: 'allow', by: 'operator' } },
    ])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out).hookSpecificOutput).toMatchObject({ permissionDecision: 'allow' })
    expect(r.bodies[0]).toEqual({
      requestId: 'toolu_01',
      tool: 'Bash',
      input: { command: 'ls' },
      waitMs: 20_000,
    })
  })

  it('denies with exit 2 and the reason on stderr', async () => {
    const r = await permit(CALL, [
      { json: { requestId: 'toolu_01', decision: 'deny', by: 'operator', reason: 'not today' } },
    ])
    expect(r).toMatchObject({
      code: 2,
      out: '',
      err: 'permission denied by the operator: not today\n',
    })
  })

  it('asks again with the same id while pending, and through a restart of the service', async () => {
    const deadline = new Date(600_000).toISOString()
    const r = await permit(CALL, [
      { json: { requestId: 'toolu_01', decision: 'pending', deadline } },
      'down',
      { status: 503, code: 'not_ready' },
      { json: { requestId: 'toolu_01', decision: 'pending', deadline } },
      { json: { requestId: 'toolu_01', decision: 'allow', by: 'operator' } },
    ])
    expect(r.code).toBe(0)
    expect(new Set(r.bodies.map((b) => b.requestId))).toEqual(new Set(['toolu_01']))
    expect(r.bodies).toHaveLength(5)
  })

  it('denies once the deadline has passed with the service away', async () => {
    const deadline = new Date(1000).toISOString()
    const r = await permit(CALL, [
      { json: { requestId: 'toolu_01', decision: 'pending', deadline } },
      ...Array<Answer>(200).fill('down'),
    ])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/did not answer in time/)
  })

  it('fails closed: a refusal, an unreadable payload or an unknown format is a deny (exit 2)', async () => {
    expect(await permit(CALL, [{ status: 409, code: 'permissions_off' }])).toMatchObject({
      code: 2,
      err: 'permission denied: no: permissions_off\n',
    })
    expect((await permit('not json', [])).code).toBe(2)
    expect((await permit({ tool_input: {} }, [])).err).toMatch(/names no tool/)
    expect((await permit(CALL, [], ['--format', 'nope'])).code).toBe(2)
  })

  it('keeps a fresh id for a call without one, across its retries', async () => {
    const r = await permit({ toolName: 'shell', args: '{"command":"ls"}' }, [
      'down',
      { json: { requestId: 'x', decision: 'allow' } },
    ])
    expect(r.code).toBe(0)
    expect(r.bodies[0]).toMatchObject({ tool: 'shell', input: { command: 'ls' } })
    expect(r.bodies[0]!.requestId).toMatch(/^p-[0-9a-f]{24}$/)
    expect(r.bodies[1]!.requestId).toBe(r.bodies[0]!.requestId)
  })

  it('other formats: exit code only, or a JSON line', async () => {
    const allow = { json: { requestId: 'toolu_01', decision: 'allow' } }
    expect(await permit(CALL, [allow], ['--format', 'exit-code'])).toMatchObject({
      code: 0,
      out: '',
    })
    const deny = { json: { requestId: 'toolu_01', decision: 'deny', by: 'policy', reason: 'r' } }
    const r = await permit(CALL, [deny], ['--format', 'json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual({
      decision: 'deny',
      reason: 'permission denied by the policy: r',
    })
  })
})

describe('readToolCall', () => {
  it('reads the names hooks use', () => {
    expect(readToolCall({ toolName: 'edit', toolInput: { path: '/a' }, toolCallId: 'c1' })).toEqual(
      { tool: 'edit', input: { path: '/a' }, id: 'c1' },
    )
    expect(readToolCall({ name: 'run', arguments: '{"x":1}' })).toEqual({
      tool: 'run',
      input: { x: 1 },
    })
  })
})
