import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const API_TOKEN = `api-${randomBytes(12).toString('hex')}`

/**
 * A worker that holds only the `spawn` tool uses its own token the way a prompt-injected agent
 * would (straight at the API), asking for more than it has.
 */
describe('a worker with only the spawn tool, against the real service and Docker', () => {
  const instance = `sub-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let parent: string
  let parentToken: string

  const call = (method: string, path: string, body?: unknown, token = API_TOKEN) =>
    spawnerClient(spawner)(method, path, body, token)
  const spawn = (config: object) =>
    call('POST', '/v1/workers', { agent: 'shell', ...config }, parentToken)
  const hostConfig = async (workerId: string) => {
    const [row] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${workerId}`] },
    })
    return (await docker.getContainer(row!.Id).inspect()).HostConfig
  }

  beforeAll(async () => {
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      SPAWNER_API_TOKEN: API_TOKEN,
      SPAWNER_TOKEN_SECRET: randomBytes(24).toString('hex'),
      // Secrets a wider child would have been given.
      ANTHROPIC_API_KEY: 'sk-operator-secret-not-for-children',
    })
    const created = await call('POST', '/v1/workers', {
      agent: 'shell',
      allowedTools: ['spawn'],
      resources: { memoryMb: 256, cpus: 0.5, pids: 64 },
      ttlSeconds: 3600,
      maxChildren: 3,
      labels: { 'test-run': instance },
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    parent = created.json.workerId
    const token = await call('POST', `/v1/workers/${parent}/commands`, {
      shell: 'printf %s "$ORCHESTRATOR_TOKEN"',
    })
    parentToken = token.json.stdout
    expect(parentToken.split('.')).toHaveLength(3)
  })
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  it('cannot get another agent (and its secrets), start-time env, the network, or the whole filesystem as workdir', async () => {
    const refused = [
      [{ agent: 'claude-code' }, 403, 'not_wider_than_parent'],
      [{ capabilities: ['git'] }, 403, 'not_wider_than_parent'],
      [
        { env: { AGENT_COMMAND: 'curl http://host.docker.internal' } },
        403,
        'not_wider_than_parent',
      ],
      [{ env: { INSTALL_COMMANDS: 'id' } }, 403, 'not_wider_than_parent'],
      [{ workdir: '/' }, 400, 'bad_request'],
      [{ workdir: '/etc' }, 403, 'not_wider_than_parent'],
      [{ allowedTools: ['spawn', 'delete'] }, 403, 'tool_not_allowed'],
      [{ network: 'open' }, 403, 'not_wider_than_parent'],
    ] as const
    for (const [config, status, code] of refused) {
      const r = await spawn(config)
      expect(r.status, JSON.stringify(config)).toBe(status)
      expect(r.json.error.code, JSON.stringify(config)).toBe(code)
    }
    const children = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.parent}=${parent}`] },
    })
    expect(children).toEqual([])
  })

  it("gets at most the parent's resources and lifetime, however much it asks for", async () => {
    const r = await spawn({
      resources: { memoryMb: 262_144, cpus: 256, pids: 65_536 },
      ttlSeconds: 2_592_000,
    })
    expect(r.status, JSON.stringify(r.json)).toBe(201)
    const child = r.json.workerId
    const [mine, theirs] = await Promise.all([hostConfig(child), hostConfig(parent)])
    expect(mine.Memory).toBe(theirs.Memory)
    expect(mine.NanoCpus).toBe(theirs.NanoCpus)
    expect(mine.PidsLimit).toBe(theirs.PidsLimit)
    const status = (await call('GET', `/v1/workers/${child}`)).json
    const parentStatus = (await call('GET', `/v1/workers/${parent}`)).json
    expect(new Date(status.expiresAt).getTime()).toBeLessThanOrEqual(
      new Date(parentStatus.expiresAt).getTime(),
    )
    expect((await call('DELETE', `/v1/workers/${child}`)).status).toBe(200)
  })

  it('cannot pass maxChildren by spawning many at once', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => spawn({})))
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3)
    expect(
      answers.filter((a) => a.status === 403).every((a) => a.json.error.code === 'quota_exceeded'),
    ).toBe(true)
    const children = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.parent}=${parent}`] },
    })
    expect(children).toHaveLength(3)
  })
})
