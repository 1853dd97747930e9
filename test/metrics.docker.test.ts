import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parsePromText, sampleValue } from './support/prom-text.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const TOKEN = `metrics-${randomBytes(12).toString('hex')}`

describe('GET /metrics on a running service', () => {
  const instance = `metrics-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>

  const scrape = async (bearer = TOKEN) => {
    const res = await fetch(`http://127.0.0.1:${spawner.port}/metrics`, {
      headers: { authorization: `Bearer ${bearer}` },
    })
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
  }

  beforeAll(async () => {
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: TOKEN,
    })
    call = spawnerClient(spawner, TOKEN)
  })

  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  it('moves the counters and histograms of a create, a command and a prompt', async () => {
    const before = parsePromText((await scrape()).text).samples
    const shell = { agent: 'shell' }

    const created = await call('POST', '/v1/workers', { agent: 'shell' })
    expect(created.status).toBe(201)
    const id = created.json.workerId as string
    const cmd = await call('POST', `/v1/workers/${id}/commands`, { shell: 'echo metered' })
    expect(cmd.status).toBe(200)
    expect(cmd.json.stdout).toContain('metered')
    const prompt = await call('POST', `/v1/workers/${id}/commands`, { prompt: 'echo answered' })
    expect(prompt.status).toBe(200)

    const scraped = await scrape()
    expect(scraped.status).toBe(200)
    expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/)
    const { samples, types } = parsePromText(scraped.text)
    const moved = (name: string, labels: Record<string, string>) =>
      sampleValue(samples, name, labels) - sampleValue(before, name, labels)
    expect(moved('spawner_worker_creates_total', { ...shell, outcome: 'ok' })).toBe(1)
    expect(moved('spawner_worker_create_seconds_count', shell)).toBe(1)
    expect(sampleValue(samples, 'spawner_worker_create_seconds_sum', shell)).toBeGreaterThan(0)
    for (const type of ['command', 'prompt']) {
      expect(moved('spawner_commands_total', { ...shell, type, outcome: 'ok' })).toBe(1)
      expect(moved('spawner_command_seconds_count', { ...shell, type })).toBe(1)
    }
    expect(sampleValue(samples, 'spawner_workers', { ...shell, state: 'running' })).toBe(1)
    expect(types.get('spawner_command_seconds')).toBe('histogram')
    // Node's own metrics come along.
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true)
    expect(scraped.text).not.toContain(id)
  })

  it('refuses a worker token and a call without one', async () => {
    const created = await call('POST', '/v1/workers', { agent: 'shell' })
    expect(created.status).toBe(201)
    const id = created.json.workerId as string
    const env = await call('POST', `/v1/workers/${id}/commands`, {
      shell: 'printf %s "$ORCHESTRATOR_TOKEN"',
    })
    const workerToken = String(env.json.stdout)
    expect(workerToken.split('.')).toHaveLength(3)
    // The token is good for the worker's own calls, not for the metrics.
    const whoami = await call('GET', '/v1/whoami', undefined, workerToken)
    expect(whoami.json).toMatchObject({ kind: 'worker', workerId: id })
    const refused = await scrape(workerToken)
    expect(refused.status).toBe(403)
    expect(JSON.parse(refused.text).error.code).toBe('forbidden')
    const anonymous = await fetch(`http://127.0.0.1:${spawner.port}/metrics`)
    expect(anonymous.status).toBe(401)
  })
})
