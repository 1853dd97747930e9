import { describe, expect, it, vi } from 'vitest'
import { createApp } from '../http/app.ts'
import { memoryService, registryOf, shellAgent } from '../../test/support/memory-service.ts'
import { defineCapability } from '../core/plugin/contract.ts'
import { WarmPools } from '../core/pool.ts'
import { parsePromText, sampleValue } from '../../test/support/prom-text.ts'
import { TokenSigner } from '../core/auth/jwt.ts'
import { createMetrics } from './metrics.ts'

const API_TOKEN = 'operator-token-0123456789'

const setup = () => {
  const signer = new TokenSigner('metrics-test-key-0123456789abcdef')
  const m = memoryService()
  const metrics = createMetrics({ service: m.service, processMetrics: false })
  const app = createApp({
    service: m.service,
    metrics,
    auth: { apiToken: API_TOKEN, signer },
  })
  const call = (path: string, init: RequestInit = {}, token = API_TOKEN) =>
    app.request(path, {
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    })
  const scrape = async () => {
    const res = await call('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return parsePromText(await res.text())
  }
  return { ...m, app, call, scrape, signer, metrics }
}

describe('GET /metrics', () => {
  it('counts creates, commands and prompts, with their durations, and workers by state', async () => {
    const { call, scrape } = setup()
    const before = await scrape()
    expect(sampleValue(before.samples, 'spawner_worker_creates_total')).toBe(0)

    const created = await call('/v1/workers', {
      method: 'POST',
      body: JSON.stringify({ agent: 'shell', labels: { team: 'a-label-never-in-metrics' } }),
    })
    expect(created.status).toBe(201)
    const { workerId } = (await created.json()) as { workerId: string }
    const path = `/v1/workers/${workerId}/commands`
    const cmd = await call(path, { method: 'POST', body: JSON.stringify({ shell: 'echo hi' }) })
    expect(cmd.status).toBe(200)
    const prompt = await call(path, { method: 'POST', body: JSON.stringify({ prompt: 'echo hi' }) })
    expect(prompt.status).toBe(200)

    const { samples, types } = await scrape()
    const shell = { agent: 'shell' }
    expect(types.get('spawner_worker_creates_total')).toBe('counter')
    expect(types.get('spawner_command_seconds')).toBe('histogram')
    expect(
      sampleValue(samples, 'spawner_worker_creates_total', {
        ...shell,
        source: 'fresh',
        outcome: 'ok',
      }),
    ).toBe(1)
    expect(sampleValue(samples, 'spawner_worker_create_seconds_count', shell)).toBe(1)
    for (const type of ['command', 'prompt']) {
      expect(
        sampleValue(samples, 'spawner_commands_total', { ...shell, type, outcome: 'ok' }),
      ).toBe(1)
      expect(sampleValue(samples, 'spawner_command_seconds_count', { ...shell, type })).toBe(1)
      expect(
        sampleValue(samples, 'spawner_command_seconds_bucket', { ...shell, type, le: '+Inf' }),
      ).toBe(1)
    }
    expect(sampleValue(samples, 'spawner_workers', { state: 'running', agent: 'shell' })).toBe(1)
    expect(
      sampleValue(samples, 'spawner_worker_status_changes_total', {
        state: 'running',
        reason: 'request',
      }),
    ).toBe(1)
    expect(samples.some((s) => s.name === 'spawner_sse_subscribers')).toBe(true)
    // Bounded labels: no worker id, no caller's label anywhere.
    const text = JSON.stringify(samples)
    expect(text).not.toContain(workerId)
    expect(text).not.toContain('a-label-never-in-metrics')
  })

  it('counts model tokens and cost by agent, any other name as other', async () => {
    const { scrape, service } = setup()
    const spend = { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 }
    const usage = (plugin: string) =>
      service.events.publish({
        type: 'usage',
        workerId: 'w-0123456789abcdef',
        at: new Date().toISOString(),
        plugin,
        inputTokens: 100,
        outputTokens: 20,
        cacheReadInputTokens: 5,
        cacheCreationInputTokens: 0,
        costUsd: 0.25,
        spend: spend as never,
      })
    usage('shell')
    usage('a-name-the-caller-made-up')
    const { samples } = await scrape()
    expect(
      sampleValue(samples, 'spawner_agent_tokens_total', { agent: 'shell', kind: 'input' }),
    ).toBe(100)
    expect(
      sampleValue(samples, 'spawner_agent_tokens_total', { agent: 'shell', kind: 'output' }),
    ).toBe(20)
    expect(sampleValue(samples, 'spawner_agent_cost_usd_total', { agent: 'shell' })).toBe(0.25)
    expect(sampleValue(samples, 'spawner_agent_cost_usd_total', { agent: 'other' })).toBe(0.25)
    expect(JSON.stringify(samples)).not.toContain('a-name-the-caller-made-up')
  })

  it('is for operators: no token is 401, a worker token 403', async () => {
    const { call, create, signer } = setup()
    const { workerId } = await create()
    expect((await call('/metrics', {}, '')).status).toBe(401)
    expect((await call('/metrics', {}, 'not-the-token')).status).toBe(401)
    const token = await signer.sign({
      sub: workerId,
      tools: ['list_workers'],
      exp: Math.floor(Date.now() / 1000) + 600,
    })
    const res = await call('/metrics', {}, token)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden')
  })

  it('is absent where the entry collects none (the serverless entry)', async () => {
    const { service } = memoryService()
    const app = createApp({ service })
    expect((await app.request('/metrics')).status).toBe(404)
  })
})

describe('pool and image-build metrics', () => {
  it('count warm-pool hits and misses, and derived image builds', async () => {
    const withGit = defineCapability({
      apiVersion: 'v1',
      name: 'git',
      version: '1.0.0',
      description: 'git',
      install: [{ apt: ['git'] }],
    })
    const registry = registryOf(shellAgent, withGit)
    const m = memoryService({ plugins: () => registry })
    const pools = new WarmPools(m.service, [
      { key: 'shell', agent: 'shell', capabilities: [], size: 1 },
    ])
    const metrics = createMetrics({ service: m.service, pools, processMetrics: false })
    pools.start()
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    const ready = parsePromText(await metrics.render()).samples
    expect(sampleValue(ready, 'spawner_pool_ready', { pool: 'shell' })).toBe(1)

    await m.create() // from the pool
    await m.create({ capabilities: ['git'] }) // no pool for it: a fresh container, a new image
    const { samples } = parsePromText(await metrics.render())
    expect(sampleValue(samples, 'spawner_pool_hits_total', { agent: 'shell' })).toBe(1)
    expect(sampleValue(samples, 'spawner_pool_misses_total', { agent: 'shell' })).toBe(1)
    const ok = { agent: 'shell', outcome: 'ok' }
    expect(sampleValue(samples, 'spawner_worker_creates_total', { ...ok, source: 'pool' })).toBe(1)
    expect(sampleValue(samples, 'spawner_worker_creates_total', { ...ok, source: 'fresh' })).toBe(1)
    expect(sampleValue(samples, 'spawner_image_builds_total', { outcome: 'ok' })).toBe(1)
    expect(sampleValue(samples, 'spawner_image_build_seconds_count')).toBe(1)
    pools.close()
    metrics.close()
  })
})
