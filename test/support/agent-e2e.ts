import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisAdapter, type RedisAdapter } from '../../src/redis/index.ts'
import { api, startHarness, type Harness } from './harness.ts'
import { Producer, testSettings } from './redis.ts'
import { StubModel, type ProviderHandler } from './stub-model/server.ts'

export interface AgentE2EOptions {
  /** The providers the CLI talks to, as stub handlers. */
  providers: ProviderHandler[]
  /** WorkerConfig env pointing the CLI at the stub (base URL like `http://host.docker.internal:PORT`). */
  env: (baseUrl: string) => Record<string, string>
  capabilities?: string[]
  /** Per-prompt timeout. */
  promptTimeoutMs?: number
}

/**
 * The end-to-end suite every agent plugin passes: the real CLI inside a real worker, against
 * the stub model server, over HTTP and over Redis. "What is 5 + 7?" → "12"; a second prompt
 * with the sessionId reaches the model with the first turn in its history.
 */
export const agentE2E = (agent: string, opts: AgentE2EOptions) =>
  describe(`agent ${agent}: the real CLI against the stub model`, () => {
    const stub = new StubModel(opts.providers)
    let h: Harness
    let http: ReturnType<typeof api>
    let adapter: RedisAdapter
    let producer: Producer
    let base = ''
    const timeoutMs = opts.promptTimeoutMs ?? 120_000

    beforeAll(async () => {
      await stub.start()
      base = stub.urlForContainers()
      h = await startHarness()
      http = api(h.app)
      const settings = testSettings()
      adapter = await startRedisAdapter({
        settings,
        service: h.service,
        instance: `e2e-${agent}`,
        logger: h.logger,
      })
      producer = new Producer(settings)
    }, 900_000)
    afterAll(async () => {
      await adapter?.close()
      await producer?.cleanup()
      await h?.cleanup()
      await stub.stop()
    })

    // The CLI talks to the stub model on the host: the worker needs the open network.
    const config = () => ({
      agent,
      network: 'open',
      capabilities: opts.capabilities ?? [],
      env: opts.env(base),
      labels: h.runLabel,
    })

    const checkHistory = () => {
      const second = stub.requestsWith('What is 1 + 2?')
      expect(second.length, 'the second prompt reached the stub').toBeGreaterThan(0)
      expect(
        second.some((r) => r.text.includes('What is 5 + 7?')),
        'the first turn is in the history',
      ).toBe(true)
    }

    it('over HTTP: answers, continues the conversation, sums usage', async () => {
      const created = await http.post('/v1/workers', config())
      expect(created.status, created.text).toBe(201)
      const id = created.json.workerId as string
      stub.requests.length = 0
      const first = await http.post(`/v1/workers/${id}/commands`, {
        prompt: 'What is 5 + 7?',
        timeoutMs,
      })
      expect(first.status, first.text).toBe(200)
      expect(first.json.reply?.text, JSON.stringify(first.json).slice(0, 2000)).toBe('12')
      const sessionId = first.json.reply.sessionId as string
      expect(sessionId).toBeTruthy()
      const second = await http.post(`/v1/workers/${id}/commands`, {
        prompt: 'What is 1 + 2?',
        sessionId,
        timeoutMs,
      })
      expect(second.json.reply?.text, JSON.stringify(second.json).slice(0, 2000)).toBe('3')
      checkHistory()
      const status = await http.get(`/v1/workers/${id}`)
      expect(status.json.usage.prompts).toBe(2)
      expect(status.json.agentState).toBe('idle')
      await http.del(`/v1/workers/${id}`)
    }, 600_000)

    it('over HTTP with SSE: streams the CLI output, then the parsed reply', async () => {
      const created = await http.post('/v1/workers', config())
      const id = created.json.workerId as string
      const res = await h.app.request(`/v1/workers/${id}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ prompt: 'What is 20 + 22?', timeoutMs }),
      })
      const text = await res.text()
      const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map(
        (m) => [m[1], JSON.parse(m[2]!)] as const,
      )
      expect(events.filter(([e]) => e === 'output').length).toBeGreaterThan(0)
      const result = events.find(([e]) => e === 'result')?.[1]
      expect(result?.reply?.text, text.slice(0, 2000)).toBe('42')
      await http.del(`/v1/workers/${id}`)
    }, 600_000)

    it('over Redis: answers and continues the conversation', async () => {
      const { workerId } = await producer.call('create', { config: config() })
      stub.requests.length = 0
      const first = await producer.call('send_command', {
        workerId,
        prompt: 'What is 5 + 7?',
        timeoutMs,
      })
      expect(first.reply?.text).toBe('12')
      const second = await producer.call('send_command', {
        workerId,
        prompt: 'What is 1 + 2?',
        sessionId: first.reply.sessionId,
        timeoutMs,
      })
      expect(second.reply?.text).toBe('3')
      checkHistory()
      await producer.call('delete', { workerId })
    }, 600_000)
  })
