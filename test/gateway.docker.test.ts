import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { anthropic } from './support/stub-model/anthropic.ts'
import { StubModel } from './support/stub-model/server.ts'
import { probePluginsDir, workerTraces } from './support/gateway-probe.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { collectSse } from './support/sse.ts'

/**
 * The model gateway end to end, through the service as `npm start` runs it: a worker's model
 * calls carry a credential of its own, the gateway swaps in the spawner's key, meters the
 * answer, and holds budgets. The "CLI" is curl (the `gw-probe` plugin); the agents' own CLIs
 * are proven in test/agents.
 */
describe('the model gateway', () => {
  const stub = new StubModel([anthropic])
  const REAL = `sk-real-${randomBytes(12).toString('hex')}`
  const run = randomBytes(4).toString('hex')
  const labels = { 'test-run': run }
  let plugins = ''
  let spawner: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>

  beforeAll(async () => {
    await stub.start('127.0.0.1')
    plugins = probePluginsDir()
    spawner = await startSpawner({
      PLUGINS_DIR: plugins,
      SPAWNER_INSTANCE: `gw-${run}`,
      PROBE_KEY: REAL,
      PROBE_BASE_URL: `http://127.0.0.1:${stub.port}`,
    })
    call = spawnerClient(spawner)
  }, 120_000)
  afterAll(async () => {
    const { workers } = (await call?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
    for (const w of workers ?? []) await call('DELETE', `/v1/workers/${w.workerId}`)
    await spawner?.kill()
    await stub.stop()
    rmSync(plugins, { recursive: true, force: true })
  })

  const create = async (config: object = {}) => {
    const res = await call('POST', '/v1/workers', { agent: 'gw-probe', labels, ...config })
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    return res.json.workerId as string
  }
  const prompt = (workerId: string, text: string) =>
    call('POST', `/v1/workers/${workerId}/commands`, { prompt: text, timeoutMs: 60_000 })

  it('answers with the real key upstream, and the key is nowhere in the worker', async () => {
    const events = await collectSse(`http://127.0.0.1:${spawner.port}/v1/events`)
    const id = await create()
    stub.requests.length = 0
    const res = await prompt(id, 'What is 5 + 7?')
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    expect(res.json.reply.text).toBe('12')
    // The stub got the spawner's key, in the header the CLI used; never the worker's credential.
    const seen = stub.requests.filter((r) => r.path.startsWith('/v1/messages'))
    expect(seen).toHaveLength(1)
    expect(seen[0]!.headers['x-api-key']).toBe(REAL)
    // The answer carries what the gateway measured.
    expect(res.json.metered).toMatchObject({ requests: 1, inputTokens: 12, outputTokens: 3 })
    const status = (await call('GET', `/v1/workers/${id}`)).json
    expect(status.spend).toMatchObject({ requests: 1, inputTokens: 12, outputTokens: 3 })
    expect(status.spend.costUsd).toBeGreaterThan(0)

    const { containerId } = await containerOf(id)
    const traces = await workerTraces(containerId, REAL)
    expect(traces).toContain('wsk_') // the scan saw the worker's own credential
    expect(traces).not.toMatch(/^file: /m)
    expect(traces).not.toContain(REAL)
    const seenEvents = await events.stop()
    expect(seenEvents).toContain('"type":"usage"')
    expect(seenEvents).not.toContain(REAL)
    expect(JSON.stringify(res.json) + JSON.stringify(status)).not.toContain(REAL)
    const logs = spawner.logs.map((l) => JSON.stringify(l)).join('\n') + spawner.stderr()
    expect(logs).not.toContain(REAL)
  })

  it('streams an SSE answer through and meters it', async () => {
    const id = await create()
    const res = await prompt(id, 'stream: What is 20 + 22?')
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    expect(res.json.reply.text).toBe('42')
    expect(res.json.metered).toMatchObject({ requests: 1, inputTokens: 12, outputTokens: 3 })
  })

  it('refuses a credential it did not mint, and a worker calling a plugin it lacks', async () => {
    const id = await create()
    const forged = await sh(
      id,
      'curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: wsk_w-0000000000000000_00" "$PROBE_BASE_URL/v1/messages" -d "{}"',
    )
    expect(forged.stdout).toBe('401')
    const other = await sh(
      id,
      'curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: $PROBE_KEY" "${PROBE_BASE_URL%/gw-probe}/claude-code/v1/messages" -d "{}"',
    )
    expect(other.stdout).toBe('403')
  })

  it('stops a worker at its budget with budget_exceeded, until an operator raises it', async () => {
    const events = await collectSse(`http://127.0.0.1:${spawner.port}/v1/events`)
    const id = await create({ budget: { tokens: 20 } })
    expect((await prompt(id, 'What is 1 + 1?')).json.reply.text).toBe('2') // 15 tokens
    expect((await prompt(id, 'What is 2 + 2?')).json.reply.text).toBe('4') // 30: spent
    const refused = await prompt(id, 'What is 3 + 3?')
    expect(refused.status).toBe(403)
    expect(refused.json.error.code).toBe('budget_exceeded')
    // The gateway refuses the CLI's own calls too, with a message the CLI shows.
    const direct = await sh(
      id,
      'curl -s -H "x-api-key: $PROBE_KEY" "$PROBE_BASE_URL/v1/messages" -d "{}"',
    )
    expect(direct.stdout).toContain('budget_exceeded')
    const budgetEvents = (await events.stop())
      .split('\n')
      .filter((l) => l.includes('"type":"budget"'))
    expect(budgetEvents.filter((l) => l.includes(id))).toHaveLength(1)

    const raised = await call('PATCH', `/v1/workers/${id}`, { budget: { tokens: 1000 } })
    expect(raised.status, JSON.stringify(raised.json)).toBe(200)
    expect(raised.json.budget).toEqual({ tokens: 1000 })
    expect((await prompt(id, 'What is 3 + 3?')).json.reply.text).toBe('6')
  })

  const sh = async (workerId: string, shell: string) => {
    const res = await call('POST', `/v1/workers/${workerId}/commands`, { shell })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    return res.json as { stdout: string; stderr: string; exitCode: number }
  }
  const containerOf = async (workerId: string) => {
    const { default: Dockerode } = await import('dockerode')
    const [c] = await new Dockerode().listContainers({
      all: true,
      filters: { label: [`workers-spawner.worker-id=${workerId}`] },
    })
    return { containerId: c!.Id }
  }
})
