import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { startAgentProcess, type AgentProcess } from './support/host-agent.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'

const SOCKET = '/run/workers-spawner/api/api.sock'

/**
 * In the split shape isolated workers reach their core's URL through the host agent's relay: a
 * core behind it must never take an anonymous call, and the relay passes on only calls that
 * carry a worker token.
 */
describe('split shape: no anonymous caller through a host agent', () => {
  const tag = randomBytes(3).toString('hex')
  const instances = [`split-a-${tag}`, `split-b-${tag}`]
  const agentToken = randomBytes(24).toString('hex')
  const apiToken = `api-${randomBytes(12).toString('hex')}`
  const docker = new Dockerode()
  const relayDir = mkdtempSync(join(tmpdir(), 'ws-split-'))
  let agent: AgentProcess
  let agentUrl: string
  const cores: SpawnerProcess[] = []
  const containersOf = (instance: string) =>
    docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } })

  beforeAll(async () => {
    agent = await startAgentProcess({
      HOST_AGENT_PORT: '0',
      HOST_AGENT_TOKEN: agentToken,
      HOST_AGENT_NAME: 'split-agent',
      HOST_AGENT_WORKER_SOCKET_DIR: relayDir,
    })
    agentUrl = String(agent.logs.find((l) => l.msg === 'listening')!.url)
  })
  afterAll(async () => {
    for (const core of cores) await core.kill()
    await agent?.kill()
    for (const instance of instances) {
      for (const c of await containersOf(instance)) {
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined)
      }
    }
    rmSync(relayDir, { recursive: true, force: true })
  })

  it('a core with HOST_AGENT_URL refuses to start without SPAWNER_API_TOKEN', async () => {
    const starting = startSpawner({
      SPAWNER_INSTANCE: instances[0]!,
      HOST_AGENT_URL: agentUrl,
      HOST_AGENT_TOKEN: agentToken,
      ORCHESTRATOR_URL: 'http://127.0.0.1:9',
      SPAWNER_API_TOKEN: '',
    })
    // A core that did start anyway is stopped, so the failure below is all that remains.
    starting.then((core) => cores.push(core)).catch(() => undefined)
    await expect(starting).rejects.toThrow(
      /exited with 1: workers-spawner: refusing to start with HOST_AGENT_URL but no SPAWNER_API_TOKEN/,
    )
  })

  it('through an isolated worker’s socket, a call without a worker token is refused (401)', async () => {
    // Behind the relay, a listener that takes anonymous calls as an operator's: a core in the
    // default shape without a token. The relay must not lend it to the worker.
    const anonymous = await startSpawner({
      SPAWNER_INSTANCE: instances[1]!,
      SPAWNER_API_TOKEN: '',
    })
    cores.push(anonymous)
    expect((await spawnerClient(anonymous)('GET', '/v1/whoami')).json).toEqual({ kind: 'operator' })
    const core = await startSpawner({
      SPAWNER_INSTANCE: instances[0]!,
      HOST_AGENT_URL: agentUrl,
      HOST_AGENT_TOKEN: agentToken,
      SPAWNER_API_TOKEN: apiToken,
      ORCHESTRATOR_URL: `http://127.0.0.1:${anonymous.port}`,
    })
    cores.push(core)
    const call = spawnerClient(core, apiToken)
    const created = await call('POST', '/v1/workers', { agent: 'shell', allowedTools: [] })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    const sh = async (shell: string) => {
      const path = `/v1/workers/${created.json.workerId}/commands`
      const r = await call('POST', path, { shell, timeoutMs: 60_000 })
      expect(r.status, JSON.stringify(r.json)).toBe(200)
      return r.json.stdout as string
    }

    const curl = `curl -s -w ' %{http_code}' --unix-socket ${SOCKET}`
    const whoami = await sh(`${curl} http://x/v1/whoami`)
    expect(whoami).toMatch(/"code":"worker_token_required".* 401$/)
    const open = await sh(
      `${curl} -H 'content-type: application/json' ` +
        `-d '{"agent":"shell","network":"open"}' http://x/v1/workers`,
    )
    expect(open).toMatch(/ 401$/)
    expect(await containersOf(instances[1]!)).toEqual([])
  })
})
