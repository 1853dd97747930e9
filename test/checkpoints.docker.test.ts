import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHECKPOINT_LABELS } from '../src/core/checkpoint-images.ts'
import { LABELS } from '../src/core/labels.ts'
import { TOKEN_FILE } from '../src/core/worker-tokens.ts'
import { probePluginsDir, workerTraces } from './support/gateway-probe.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { anthropic } from './support/stub-model/anthropic.ts'
import { StubModel } from './support/stub-model/server.ts'

const API_TOKEN = `api-${randomBytes(12).toString('hex')}`

/** The longest run of a value that `workerTraces` can look for (letters, digits, dashes). */
const needleOf = (secret: string) =>
  (secret.match(/[A-Za-z0-9-]+/g) ?? []).sort((a, b) => b.length - a.length)[0]!

/**
 * Checkpoints, restores and forks through the service as `npm start` runs it, on Docker. The
 * worker runs `gw-probe` (curl through the model gateway to a stub model), so it holds a gateway
 * credential and a token of its own, which a fork must never get.
 */
describe('checkpoints and forks on Docker', () => {
  const stub = new StubModel([anthropic])
  const run = randomBytes(4).toString('hex')
  const instance = `cp-${run}`
  const labels = { 'test-run': run }
  const docker = new Dockerode()
  let plugins = ''
  let spawner: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>
  let env: Record<string, string> = {}

  beforeAll(async () => {
    await stub.start('127.0.0.1')
    plugins = probePluginsDir()
    env = {
      PLUGINS_DIR: plugins,
      SPAWNER_INSTANCE: instance,
      SPAWNER_API_TOKEN: API_TOKEN,
      SPAWNER_TOKEN_SECRET: randomBytes(24).toString('hex'),
      PROBE_KEY: `sk-real-${randomBytes(8).toString('hex')}`,
      PROBE_BASE_URL: `http://127.0.0.1:${stub.port}`,
    }
    spawner = await startSpawner(env)
    call = spawnerClient(spawner, API_TOKEN)
  }, 120_000)
  afterAll(async () => {
    const { workers } = (await call?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
    for (const w of workers ?? []) await call('DELETE', `/v1/workers/${w.workerId}`)
    await spawner?.kill()
    await stub.stop()
    rmSync(plugins, { recursive: true, force: true })
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.instance}=${instance}`] },
    }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined)
    for (const i of await checkpointImages())
      await docker
        .getImage(i.Id)
        .remove({ force: true })
        .catch(() => undefined)
  })

  const checkpointImages = () =>
    docker.listImages({ filters: { label: [`${CHECKPOINT_LABELS.instance}=${instance}`] } })
  const create = async (config: object = {}) => {
    const res = await call('POST', '/v1/workers', {
      agent: 'gw-probe',
      labels,
      allowedTools: ['status'],
      ...config,
    })
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    return res.json.workerId as string
  }
  const sh = async (workerId: string, shell: string, token?: string) => {
    const res = await call('POST', `/v1/workers/${workerId}/commands`, { shell }, token)
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    return res.json as { stdout: string; exitCode: number }
  }
  const prompt = async (workerId: string, text: string) => {
    const res = await call('POST', `/v1/workers/${workerId}/commands`, {
      prompt: text,
      timeoutMs: 60_000,
    })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    return res.json.reply.text as string
  }
  const containerOf = async (workerId: string) => {
    const [c] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${workerId}`] },
    })
    return c!.Id
  }

  it('restore puts a changed file back, under the same worker id', async () => {
    const id = await create()
    await sh(id, 'echo first > /workspace/state.txt')
    const taken = await call('POST', `/v1/workers/${id}/checkpoints`)
    expect(taken.status, JSON.stringify(taken.json)).toBe(201)
    expect(taken.json).toMatchObject({ workerId: id, turns: 0, auto: false })
    await sh(id, 'echo second > /workspace/state.txt; touch /workspace/new.txt')
    const before = await containerOf(id)

    const restored = await call(
      'POST',
      `/v1/workers/${id}/checkpoints/${taken.json.checkpointId}/restore`,
    )
    expect(restored.status, JSON.stringify(restored.json)).toBe(200)
    expect(restored.json).toMatchObject({ workerId: id, state: 'running' })
    const after = await containerOf(id)
    expect(after).not.toBe(before)
    expect((await sh(id, 'cat /workspace/state.txt; ls /workspace')).stdout).toBe(
      'first\nstate.txt\n',
    )
    // Its token still works, the gateway still knows it, and status follows the new container.
    expect((await call('GET', `/v1/workers/${id}`)).json.state).toBe('running')
    expect(await prompt(id, 'What is 5 + 7?')).toBe('12')

    const listed = await call('GET', `/v1/workers/${id}/checkpoints`)
    expect(listed.json.checkpoints).toHaveLength(1)
    // The worker runs from it now: it stays until the worker goes.
    const busy = await call('DELETE', `/v1/workers/${id}/checkpoints/${taken.json.checkpointId}`)
    expect(busy.status).toBe(409)
    expect(busy.json.error.code).toBe('checkpoint_in_use')
  })

  it('forks get the files, are independent, and never hold the source credentials', async () => {
    const id = await create()
    await sh(id, 'echo shared > /workspace/shared.txt')
    const parentEnv = (await sh(id, 'printf "%s\\n%s" "$PROBE_KEY" "$ORCHESTRATOR_TOKEN"')).stdout
    const [parentKey, parentToken] = parentEnv.split('\n') as [string, string]
    expect(parentKey).toMatch(/^wsk_/)
    // As after an `update`, the token is in the token file too.
    await call('PATCH', `/v1/workers/${id}`, { ttlSeconds: 3000 })
    expect((await sh(id, `cat ${TOKEN_FILE}`)).stdout).not.toBe('')

    const forked = await call('POST', `/v1/workers/${id}/fork`, { count: 2 })
    expect(forked.status, JSON.stringify(forked.json)).toBe(201)
    const [a, b] = forked.json.workers.map((w: { workerId: string }) => w.workerId) as string[]
    expect(a).not.toBe(b)

    for (const fork of [a!, b!]) {
      expect((await sh(fork, 'cat /workspace/shared.txt')).stdout).toBe('shared\n')
      const own = (await sh(fork, `printf "%s\\n%s" "$PROBE_KEY" "$(cat ${TOKEN_FILE})"`)).stdout
      const [key, token] = own.split('\n') as [string, string]
      expect(key).toMatch(new RegExp(`^wsk_${fork}_`))
      expect(token).not.toBe(parentToken)
      // Its own token is good for itself, at the API.
      expect((await call('GET', `/v1/workers/${fork}`, undefined, token)).status).toBe(200)
      expect(await prompt(fork, 'What is 1 + 2?')).toBe('3')
      // Nothing of the source's credential or token anywhere: inspect, files, processes.
      const traces = await workerTraces(await containerOf(fork), needleOf(parentKey))
      expect(traces).not.toContain(needleOf(parentKey))
      expect(await workerTraces(await containerOf(fork), needleOf(parentToken))).not.toContain(
        needleOf(parentToken),
      )
    }
    const [committed] = await checkpointImages().then((all) =>
      all.filter((i) => i.Labels?.[CHECKPOINT_LABELS.id] === forked.json.checkpointId),
    )
    const config = JSON.stringify((await docker.getImage(committed!.Id).inspect()).Config)
    expect(config).not.toContain(needleOf(parentKey))
    expect(config).not.toContain(needleOf(parentToken))

    await sh(a!, 'echo mine > /workspace/shared.txt')
    expect((await sh(b!, 'cat /workspace/shared.txt')).stdout).toBe('shared\n')
    expect((await sh(id, 'cat /workspace/shared.txt')).stdout).toBe('shared\n')

    // With the source gone, its credential is refused at the gateway, even from a fork.
    expect((await call('DELETE', `/v1/workers/${id}`)).status).toBe(200)
    const refused = await sh(
      a!,
      `curl -s -o /dev/null -w "%{http_code}" -H "x-api-key: ${parentKey}" "$PROBE_BASE_URL/v1/messages" -d "{}"`,
    )
    expect(refused.stdout).toBe('401')
    // The fork's own still works.
    expect(await prompt(a!, 'What is 3 + 4?')).toBe('7')
  })

  it('takes a checkpoint after each prompt and keeps the last ones', async () => {
    const id = await create({ checkpoint: { every: 'turn', keep: 2 } })
    for (const q of ['What is 1 + 1?', 'What is 2 + 2?', 'What is 3 + 3?']) await prompt(id, q)
    const listed = await call('GET', `/v1/workers/${id}/checkpoints`)
    expect(
      listed.json.checkpoints.map((c: { auto: boolean; turns: number }) => [c.auto, c.turns]),
    ).toEqual([
      [true, 2],
      [true, 3],
    ])
    const images = (await checkpointImages()).filter(
      (i) => i.Labels?.[CHECKPOINT_LABELS.workerId] === id,
    )
    expect(images).toHaveLength(2)
    // Deleting the worker deletes them.
    expect((await call('DELETE', `/v1/workers/${id}`)).status).toBe(200)
    const left = (await checkpointImages()).filter(
      (i) => i.Labels?.[CHECKPOINT_LABELS.workerId] === id,
    )
    expect(left).toHaveLength(0)
  })

  it("a worker's token reaches only its own checkpoints; its forks are its sub-workers", async () => {
    const me = await create({ allowedTools: ['spawn', 'checkpoint', 'status'], maxChildren: 2 })
    const other = await create()
    const token = (await sh(me, 'printf %s "$ORCHESTRATOR_TOKEN"')).stdout
    const otherToken = (await sh(other, 'printf %s "$ORCHESTRATOR_TOKEN"')).stdout

    const forked = await call('POST', `/v1/workers/${me}/fork`, { count: 1 }, token)
    expect(forked.status, JSON.stringify(forked.json)).toBe(201)
    expect(forked.json.workers[0].parentId).toBe(me)
    const listed = await call('GET', `/v1/workers/${me}/checkpoints`, undefined, token)
    expect(listed.json.checkpoints).toHaveLength(1)

    const theirs = await call('POST', `/v1/workers/${other}/checkpoints`, undefined, token)
    expect(theirs.status).toBe(403)
    expect(theirs.json.error.code).toBe('not_your_worker')
    const forkTheirs = await call('POST', `/v1/workers/${other}/fork`, { count: 1 }, token)
    expect(forkTheirs.status).toBe(403)
    // Without the tools, not even on itself.
    const noTool = await call('POST', `/v1/workers/${other}/checkpoints`, undefined, otherToken)
    expect(noTool.status).toBe(403)
    expect(noTool.json.error.code).toBe('tool_not_allowed')
  })

  // It restarts the service (with the same key and instance).
  it('after a restart: checkpoints are found again, restore and fork work, orphans go', async () => {
    const id = await create()
    await sh(id, 'echo kept > /workspace/k.txt')
    const cp = (await call('POST', `/v1/workers/${id}/checkpoints`)).json
    await sh(id, 'echo changed > /workspace/k.txt')
    const gone = await create()
    expect((await call('POST', `/v1/workers/${gone}/checkpoints`)).status).toBe(201)

    await spawner.kill('SIGKILL')
    // A worker goes while the service is down: its checkpoint is left behind.
    await docker.getContainer(await containerOf(gone)).remove({ force: true })
    spawner = await startSpawner(env)
    call = spawnerClient(spawner, API_TOKEN)

    const listed = await call('GET', `/v1/workers/${id}/checkpoints`)
    expect(listed.json.checkpoints.map((c: { checkpointId: string }) => c.checkpointId)).toEqual([
      cp.checkpointId,
    ])
    const restored = await call('POST', `/v1/workers/${id}/checkpoints/${cp.checkpointId}/restore`)
    expect(restored.status, JSON.stringify(restored.json)).toBe(200)
    expect((await sh(id, 'cat /workspace/k.txt')).stdout).toBe('kept\n')
    const forked = await call('POST', `/v1/workers/${id}/fork`, { count: 1 })
    expect(forked.status, JSON.stringify(forked.json)).toBe(201)
    expect((await sh(forked.json.workers[0].workerId, 'cat /workspace/k.txt')).stdout).toBe(
      'kept\n',
    )
    const orphans = (await checkpointImages()).filter(
      (i) => i.Labels?.[CHECKPOINT_LABELS.workerId] === gone,
    )
    expect(orphans).toHaveLength(0)
  })

  it('refuses a bad policy with a message that names it', async () => {
    const res = await call('POST', '/v1/workers', {
      agent: 'gw-probe',
      labels,
      checkpoint: { every: 'turn', keep: 0 },
    })
    expect(res.status).toBe(400)
    expect(JSON.stringify(res.json)).toContain('keep at least 1')
  })
})
