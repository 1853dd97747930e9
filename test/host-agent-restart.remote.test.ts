import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { startAgentProcess, type AgentProcess } from './support/host-agent.ts'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

/** A TCP port nothing listens on right now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

describe('a host agent killed and started again mid-session', () => {
  const instance = `agent-restart-${randomBytes(3).toString('hex')}`
  const token = randomBytes(24).toString('hex')
  const apiToken = `api-${randomBytes(12).toString('hex')}`
  const docker = new Dockerode()
  const agents: AgentProcess[] = []
  const relayDir = mkdtempSync(join(tmpdir(), 'ws-relays-'))
  let core: SpawnerProcess | undefined
  afterAll(async () => {
    await core?.kill('SIGKILL')
    for (const a of agents) await a.kill('SIGKILL')
    await removeInstanceContainers(docker, instance)
    rmSync(relayDir, { recursive: true, force: true })
  })

  it('answers 503 while the agent is down, then carries on with the same worker', async () => {
    const port = await freePort()
    const agentEnv = {
      HOST_AGENT_PORT: String(port),
      HOST_AGENT_TOKEN: token,
      HOST_AGENT_NAME: 'restart-agent',
      HOST_AGENT_WORKER_SOCKET_DIR: relayDir,
    }
    agents.push(await startAgentProcess(agentEnv))
    const corePort = await freePort()
    core = await startSpawner({
      SPAWNER_INSTANCE: instance,
      PORT: String(corePort),
      HOST_AGENT_URL: `http://127.0.0.1:${port}`,
      HOST_AGENT_TOKEN: token,
      SPAWNER_API_TOKEN: apiToken,
      ORCHESTRATOR_URL: `http://127.0.0.1:${corePort}`,
    })
    expect(core.logs.find((l) => l.msg === 'listening')).toMatchObject({
      hostAgents: `127.0.0.1:${port}=http://127.0.0.1:${port}`,
    })
    const base = `http://127.0.0.1:${core.port}`
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${apiToken}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      return { status: res.status, json: (await res.json()) as any }
    }

    const created = await call('POST', '/v1/workers', {
      agent: 'shell',
      files: { 'NOTE.md': 'kept' },
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    const id = created.json.workerId as string
    const [container] = await docker.listContainers({
      filters: { label: [`${LABELS.workerId}=${id}`] },
    })
    expect(container?.Labels[LABELS.instance]).toBe(instance)
    expect(
      (await call('POST', `/v1/workers/${id}/commands`, { shell: 'echo before' })).json.stdout,
    ).toBe('before\n')

    // A command in flight when the agent dies, and one sent while it is away.
    const inFlight = call('POST', `/v1/workers/${id}/commands`, { shell: 'sleep 5; echo never' })
    await new Promise((r) => setTimeout(r, 500))
    await agents[0]!.kill('SIGKILL')
    const cut = await inFlight
    expect(cut.status).toBe(503)
    expect(cut.json.error.code).toBe('unavailable')
    const away = await call('POST', `/v1/workers/${id}/commands`, { shell: 'echo while-away' })
    expect(away.status).toBe(503)
    expect(away.json.error).toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining(`127.0.0.1:${port}`),
    })
    expect((await call('GET', `/v1/workers/${id}`)).status).toBe(503)

    agents.push(await startAgentProcess(agentEnv))
    const back = await call('POST', `/v1/workers/${id}/commands`, {
      shell: 'echo after; cat NOTE.md',
    })
    expect(back.status, JSON.stringify(back.json)).toBe(200)
    expect(back.json.stdout).toBe('after\nkept')
    expect((await call('GET', `/v1/workers/${id}`)).json).toMatchObject({
      workerId: id,
      state: 'running',
    })
    const [same] = await docker.listContainers({ filters: { label: [`${LABELS.workerId}=${id}`] } })
    expect(same?.Id).toBe(container!.Id)
    // The new agent serves the worker's API socket again (relayed to the core).
    const socket = await call('POST', `/v1/workers/${id}/commands`, {
      shell:
        'curl -s --unix-socket /run/workers-spawner/api/api.sock ' +
        '-H "authorization: Bearer $ORCHESTRATOR_TOKEN" http://localhost/v1/whoami',
    })
    expect(JSON.parse(socket.json.stdout)).toMatchObject({ kind: 'worker', workerId: id })
    expect((await call('DELETE', `/v1/workers/${id}`)).status).toBe(200)
  })
})
