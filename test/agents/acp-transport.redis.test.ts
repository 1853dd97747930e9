import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { updateOf } from '../../src/core/acp/turn.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from '../support/process.ts'
import { testSettings } from '../support/redis.ts'
import { sseEvents } from '../support/sse.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'
import { StubModel, type ProviderHandler } from '../support/stub-model/server.ts'

/** The stub, holding back its answer to "Wait for me." until released: a turn still running. */
const holding = (p: ProviderHandler) => {
  const held: (() => void)[] = []
  const handler: ProviderHandler = {
    ...p,
    async handle(ctx) {
      if (ctx.text.lastIndexOf('Wait for me.') > ctx.text.lastIndexOf('What is')) {
        await new Promise<void>((resolve) => held.push(resolve))
      }
      return p.handle(ctx)
    },
  }
  return { handler, release: () => held.splice(0).forEach((r) => r()) }
}

/**
 * The ACP transport with a real agent (opencode-acp) in a real worker, beyond the suite every
 * agent passes (opencode-acp.redis.test.ts): the `agent` events are the agent's own session
 * updates, a prompt past its timeout is cancelled and the session goes on, and an agent process
 * that died is started again and loads the session.
 */
describe('ACP transport (opencode-acp against the stub, through the gateway)', () => {
  const held = holding(openaiChat)
  const stub = new StubModel([held.handler])
  const run = randomBytes(4).toString('hex')
  let spawner: SpawnerProcess
  let http: ReturnType<typeof spawnerClient>
  let workerId: string

  beforeAll(async () => {
    await stub.start('127.0.0.1')
    const settings = testSettings()
    spawner = await startSpawner(
      {
        SPAWNER_INSTANCE: `e2e-acp-${run}`,
        REDIS_URL: settings.REDIS_URL,
        REDIS_PREFIX: settings.REDIS_PREFIX,
        OPENCODE_PROVIDER_BASE_URL: `http://127.0.0.1:${stub.port}/v1`,
        OPENCODE_PROVIDER_API_KEY: `real-${run}`,
      },
      60_000,
    )
    http = spawnerClient(spawner)
    const created = await http('POST', '/v1/workers', {
      agent: 'opencode-acp',
      env: { OPENCODE_MODEL: 'stub-model' },
      labels: { 'test-run': run },
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    workerId = created.json.workerId
  }, 900_000)
  afterAll(async () => {
    held.release()
    const { workers } = (await http?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
    for (const w of workers ?? []) await http('DELETE', `/v1/workers/${w.workerId}`)
    await spawner?.kill()
    await stub.stop()
  })

  const prompt = (prompt: string, more: Record<string, unknown> = {}) =>
    http('POST', `/v1/workers/${workerId}/commands`, { prompt, timeoutMs: 120_000, ...more })

  const streamed = async (body: Record<string, unknown>) => {
    const res = await fetch(`http://127.0.0.1:${spawner.port}/v1/workers/${workerId}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
    })
    return sseEvents(await res.text())
  }

  it("streams the agent's session updates as they are, as `agent` events", async () => {
    const events = await streamed({ prompt: 'What is 20 + 22?', timeoutMs: 120_000 })
    const result = events.find(([e]) => e === 'result')?.[1]
    expect(result?.reply?.text, JSON.stringify(events).slice(0, 2000)).toBe('42')
    // The raw lines: the agent's session/update notifications for this prompt's session.
    const raw = events
      .filter(([e, d]) => e === 'output' && d.stream === 'stdout')
      .map(([, d]) => d.data as string)
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(raw.length).toBeGreaterThan(0)
    for (const m of raw) {
      expect(m.method).toBe('session/update')
      expect(m.params.sessionId).toBe(result.reply.sessionId)
    }
    const agent = events.filter(([e]) => e === 'agent').map(([, d]) => d.update)
    const expected = raw.map((m) => updateOf(m.params.update)).filter(Boolean)
    expect(expected.some((u) => u?.sessionUpdate === 'agent_message_chunk')).toBe(true)
    expect(agent.slice(0, expected.length)).toEqual(expected)
    // Then what the answer to the prompt says: its tokens, where the agent counts them, and
    // its stop reason.
    const usage = result.reply.usage
      ? [{ sessionUpdate: 'usage_update', ...result.reply.usage }]
      : []
    expect(agent.slice(expected.length)).toEqual([
      ...usage,
      { sessionUpdate: 'turn_end', stopReason: 'end_turn', sessionId: result.reply.sessionId },
    ])
  }, 600_000)

  it('cancels a prompt past its timeout; the session goes on', async () => {
    const first = await prompt('What is 5 + 7?')
    expect(first.json.reply?.text, JSON.stringify(first.json)).toBe('12')
    const sessionId = first.json.reply.sessionId
    const events = await streamed({ prompt: 'Wait for me.', sessionId, timeoutMs: 3000 })
    const error = events.find(([e]) => e === 'error')?.[1]
    expect(JSON.stringify(error), JSON.stringify(events).slice(0, 2000)).toMatch(/timed out/)
    const updates = events.filter(([e]) => e === 'agent').map(([, d]) => d.update)
    expect(updates.at(-1)).toMatchObject({ sessionUpdate: 'turn_end', stopReason: 'cancelled' })
    held.release()
    const next = await prompt('What is 1 + 2?', { sessionId })
    expect(next.json.reply?.text, JSON.stringify(next.json)).toBe('3')
    expect(next.json.reply.sessionId).toBe(sessionId)
  }, 600_000)

  /** Pids of the worker's `opencode acp` processes. */
  const agentPids = async () => {
    const r = await http('POST', `/v1/workers/${workerId}/commands`, {
      shell:
        'ps -eo pid=,args= | awk \'{ for (i = 2; i < NF; i++) if ($i ~ /opencode$/ && $(i + 1) == "acp") { print $1; break } }\'',
    })
    return String(r.json.stdout).split('\n').filter(Boolean)
  }

  it('a paused worker loses its agent; the next prompt starts one that loads the session', async () => {
    const first = await prompt('What is 5 + 7?')
    const sessionId = first.json.reply.sessionId
    expect(await agentPids()).not.toEqual([])
    expect((await http('POST', `/v1/workers/${workerId}/pause`)).status).toBe(200)
    expect((await http('POST', `/v1/workers/${workerId}/resume`)).status).toBe(200)
    // Its stdin was closed while paused: once running again it reads the end and exits.
    const until = Date.now() + 60_000
    let left = await agentPids()
    while (left.length && Date.now() < until) left = await agentPids()
    expect(left).toEqual([])
    stub.requests.length = 0
    const next = await prompt('What is 1 + 2?', { sessionId })
    expect(next.json.reply?.text, JSON.stringify(next.json)).toBe('3')
    const asked = stub.requestsWith('What is 1 + 2?')
    expect(asked.some((r) => r.text.includes('What is 5 + 7?'))).toBe(true)
  }, 600_000)

  it('starts the agent again when it died, and loads the session', async () => {
    const first = await prompt('What is 5 + 7?')
    const sessionId = first.json.reply.sessionId
    // The agent process (by its pid, found through /proc) dies between two prompts.
    const killed = await http('POST', `/v1/workers/${workerId}/commands`, {
      shell:
        'p=$(ps -eo pid=,args= | awk \'{ for (i = 2; i < NF; i++) if ($i ~ /opencode$/ && $(i + 1) == "acp") { print $1; break } }\'); kill -9 $p; echo $p',
    })
    expect(killed.json.stdout, JSON.stringify(killed.json)).toMatch(/\d/)
    stub.requests.length = 0
    const next = await prompt('What is 1 + 2?', { sessionId })
    expect(next.json.reply?.text, JSON.stringify(next.json)).toBe('3')
    expect(next.json.reply.sessionId).toBe(sessionId)
    const asked = stub.requestsWith('What is 1 + 2?')
    expect(asked.some((r) => r.text.includes('What is 5 + 7?'))).toBe(true)
  }, 600_000)
})
