import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { probePluginsDir } from './support/gateway-probe.ts'
import { startAgentProcess, type AgentProcess } from './support/host-agent.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { anthropic } from './support/stub-model/anthropic.ts'
import { StubModel } from './support/stub-model/server.ts'

const SOCKET = '/run/workers-spawner/api/api.sock'

/** A port nothing listens on now (the core is told its own URL before it starts). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/**
 * The split shape: workers on a host agent reach the model gateway of their core through the
 * agent's relay, which passes on model calls that carry a worker's model credential, and
 * nothing that only looks like one.
 */
describe('split shape: the model gateway through a host agent', () => {
  const tag = randomBytes(3).toString('hex')
  const instance = `gw-split-${tag}`
  const agentToken = randomBytes(24).toString('hex')
  const apiToken = `api-${randomBytes(12).toString('hex')}`
  const REAL = `real-key-${randomBytes(12).toString('hex')}`
  const relayDir = mkdtempSync(join(tmpdir(), 'ws-gw-split-'))
  const stub = new StubModel([anthropic])
  let plugins = ''
  let agent: AgentProcess
  let core: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>

  beforeAll(async () => {
    await stub.start('127.0.0.1')
    plugins = probePluginsDir()
    agent = await startAgentProcess({
      HOST_AGENT_PORT: '0',
      HOST_AGENT_TOKEN: agentToken,
      HOST_AGENT_NAME: `gw-split-${tag}`,
      HOST_AGENT_WORKER_SOCKET_DIR: relayDir,
    })
    const port = await freePort()
    core = await startSpawner({
      SPAWNER_INSTANCE: instance,
      PORT: String(port),
      HOST_AGENT_URL: String(agent.logs.find((l) => l.msg === 'listening')!.url),
      HOST_AGENT_TOKEN: agentToken,
      SPAWNER_API_TOKEN: apiToken,
      ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
      PLUGINS_DIR: plugins,
      PROBE_KEY: REAL,
      PROBE_BASE_URL: `http://127.0.0.1:${stub.port}`,
    })
    call = spawnerClient(core, apiToken)
  }, 120_000)
  afterAll(async () => {
    await core?.kill()
    await agent?.kill()
    const docker = new Dockerode()
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.instance}=${instance}`] },
    })
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true })
    await stub.stop()
    rmSync(relayDir, { recursive: true, force: true })
    rmSync(plugins, { recursive: true, force: true })
  })

  it('answers a prompt with the real key upstream, and refuses what only looks like a model call', async () => {
    const created = await call('POST', '/v1/workers', { agent: 'gw-probe', network: 'none' })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    const id = created.json.workerId as string
    const res = await call('POST', `/v1/workers/${id}/commands`, {
      prompt: 'What is 5 + 7?',
      timeoutMs: 60_000,
    })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    expect(res.json.reply.text).toBe('12')
    expect(stub.requests.at(-1)!.headers['x-api-key']).toBe(REAL)
    expect((await call('GET', `/v1/workers/${id}`)).json.spend.requests).toBe(1)

    const sh = async (shell: string) => {
      const r = await call('POST', `/v1/workers/${id}/commands`, { shell, timeoutMs: 60_000 })
      expect(r.status, JSON.stringify(r.json)).toBe(200)
      return r.json.stdout as string
    }
    // A credential-shaped header on a path that leaves /model once normalized goes nowhere.
    const curl = `curl -s --path-as-is -w ' %{http_code}' --unix-socket ${SOCKET} -H "x-api-key: $PROBE_KEY"`
    expect(await sh(`${curl} http://x/model/../v1/whoami`)).toMatch(/worker_token_required.* 401$/)
    expect(await sh(`${curl} http://x/model/%2e%2e/v1/whoami`)).toMatch(/ 401$/)
    // No egress proxy on host agents: a tunnel is refused at once, saying so.
    const tunnel = await sh(
      `curl -sS -p -x http://127.0.0.1:3128 http://example.test/ 2>&1; echo " exit $?"`,
    )
    expect(tunnel).toMatch(/CONNECT tunnel failed, response 403[\s\S]* exit 56\s*$/)
  })
})
