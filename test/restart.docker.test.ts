import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { waitFor } from './support/redis.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

describe('a spawner killed and started again', () => {
  const instance = `restart-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const procs: SpawnerProcess[] = []
  /** Where both processes keep the workers' daemon directories and (with them) their state. */
  const daemonDir = mkdtempSync(join(tmpdir(), 'ws-rst-'))
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL')
    await removeInstanceContainers(docker, instance)
    rmSync(daemonDir, { recursive: true, force: true })
  })

  const client = (p: SpawnerProcess) => spawnerClient(p)

  /** Runs `script` in a container as root: the test plays an attacker who got root inside. */
  const asRoot = async (containerId: string, script: string) => {
    const exec = await docker
      .getContainer(containerId)
      .exec({ Cmd: ['sh', '-c', script], User: '0:0', AttachStdout: true, AttachStderr: true })
    const stream = await exec.start({ hijack: true, stdin: false })
    let out = ''
    await new Promise<void>((resolve) => {
      docker.modem.demuxStream(
        stream,
        { write: (b: Buffer) => (out += b.toString()) } as never,
        { write: () => true } as never,
      )
      stream.on('end', resolve)
    })
    return out
  }
  const containerOf = async (workerId: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.workerId}=${workerId}`] },
      })
    )[0]!.Id
  /** The host file of a worker's state, when the service keeps it there (daemons on). */
  const hostFileOf = async (workerId: string) => {
    const name = (await docker.getContainer(await containerOf(workerId)).inspect()).Name
    const hash = createHash('sha256').update(name.replace(/^\//, '')).digest('hex').slice(0, 16)
    const file = join(daemonDir, `${hash}.state`)
    return existsSync(file) ? file : undefined
  }
  /** The signed state the service keeps for a worker, as written (on the host or inside). */
  const keptEnvelope = async (workerId: string) => {
    const file = await hostFileOf(workerId)
    if (file) return readFileSync(file, 'utf8')
    return asRoot(await containerOf(workerId), 'cat /etc/workers-spawner.json')
  }
  /** Writes a worker's state where the service keeps it, as someone without its key would. */
  const plant = async (workerId: string, text: string) => {
    const file = await hostFileOf(workerId)
    if (file) return writeFileSync(file, text)
    await asRoot(await containerOf(workerId), `printf '%s' '${text}' > /etc/workers-spawner.json`)
  }
  const keptState = async (workerId: string) =>
    JSON.parse(JSON.parse(await keptEnvelope(workerId)).state) as { lastActiveAt: string }

  it('knows every worker again with its original deadlines and removes the expired and broken ones', async () => {
    // The first instance never reaps (ticks far apart): `expiring` must pass its TTL while it is down.
    const env = {
      SPAWNER_INSTANCE: instance,
      LIFECYCLE_TICK_MS: '3600000',
      PERSIST_ACTIVITY_MS: '1',
      WORKER_DAEMON_DIR: daemonDir,
    }
    const first = await startSpawner(env)
    procs.push(first)
    const call = client(first)
    const make = async (config: object) => {
      const res = await call('POST', '/v1/workers', { agent: 'shell', ...config })
      expect(res.status).toBe(201)
      return res.json.workerId as string
    }
    const running = await make({ ttlSeconds: 3600, idleSeconds: 600 })
    const paused = await make({ ttlSeconds: 3600 })
    const expiring = await make({ ttlSeconds: 2, idleSeconds: 0 })
    const updated = await make({ ttlSeconds: 60 })
    // With a file, its create ends with the signed state file (without, its labels are its state).
    const forged = await make({ ttlSeconds: 60, files: { 'notes.txt': 'hi' } })
    await call('POST', `/v1/workers/${running}/commands`, { shell: 'echo hi' })
    await call('POST', `/v1/workers/${paused}/pause`)
    expect(
      (await call('PATCH', `/v1/workers/${updated}`, { ttlSeconds: 7200, idleSeconds: 30 })).status,
    ).toBe(200)
    // The activity write is fire-and-forget: wait until the worker holds it.
    const activeAt = (await call('GET', `/v1/workers/${running}`)).json.lastActiveAt
    await waitFor(
      async () => (await keptState(running).catch(() => undefined))?.lastActiveAt === activeAt,
      30_000,
      'activity written into the worker',
    )
    // Whoever writes the state file without the service's key gains nothing: a longer life is refused.
    const kept = await keptEnvelope(forged)
    const longer = JSON.parse(JSON.parse(kept).state)
    longer.ttlSeconds = 2_592_000
    longer.allowedTools = ['spawn', 'delete', 'send']
    const planted = JSON.stringify({ ...JSON.parse(kept), state: JSON.stringify(longer) })
    await plant(forged, planted)
    const before = Object.fromEntries(
      await Promise.all(
        [running, paused, expiring, updated].map(async (id) => [
          id,
          (await call('GET', `/v1/workers/${id}`)).json,
        ]),
      ),
    )

    // A container with our labels but no worker id: broken, to be cleaned at start.
    const broken = await docker.createContainer({
      Image: WORKER_IMAGE,
      Labels: { [LABELS.managed]: 'true', [LABELS.instance]: instance },
    })
    await broken.start()

    await first.kill('SIGKILL')
    // `expiring` passes its TTL while nobody watches.
    const deadline = new Date(before[expiring].expiresAt).getTime()
    await waitFor(() => Date.now() > deadline || undefined, 30_000, "expiring's TTL")

    const second = await startSpawner(env)
    procs.push(second)
    const again = client(second)
    const recovered = second.logs.find((l) => l.msg === 'workers recovered')
    const warnings = JSON.stringify(second.logs.filter((l) => l.level === 'warn'))
    expect(recovered, warnings).toMatchObject({ recovered: 3, expired: 1, broken: 2 })
    expect((await again('GET', `/v1/workers/${forged}`)).status).toBe(404)
    expect(
      await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.workerId}=${forged}`] },
      }),
    ).toEqual([])

    for (const id of [running, paused, updated]) {
      const now = (await again('GET', `/v1/workers/${id}`)).json
      expect(now.expiresAt, id).toBe(before[id].expiresAt)
      expect(now.createdAt, id).toBe(before[id].createdAt)
      expect(now.ttlSeconds, id).toBe(before[id].ttlSeconds)
    }
    expect((await again('GET', `/v1/workers/${running}`)).json.idleDeadline).toBe(
      before[running].idleDeadline,
    )
    expect((await again('GET', `/v1/workers/${paused}`)).json.state).toBe('paused')
    expect((await again('GET', `/v1/workers/${updated}`)).json).toMatchObject({
      ttlSeconds: 7200,
      idleSeconds: 30,
    })
    expect((await again('GET', `/v1/workers/${expiring}`)).status).toBe(404)
    const gone = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${expiring}`] },
    })
    expect(gone).toEqual([])
    await waitFor(
      async () => {
        try {
          await broken.inspect()
          return undefined
        } catch {
          return true
        }
      },
      5000,
      'broken container removed',
    )

    // They answer commands: the paused one is resumed on the way.
    const res = await again('POST', `/v1/workers/${paused}/commands`, { shell: 'echo resumed' })
    expect(res.json.stdout).toBe('resumed\n')
    for (const id of [running, paused, updated])
      expect((await again('DELETE', `/v1/workers/${id}`)).status).toBe(200)
  })
})
