import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { STATE_FILE } from '../src/core/worker-state.ts'
import { startNode, type RunningNode } from '../src/node/start.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'
import { waitFor } from './support/redis.ts'

const docker = new Dockerode()
const RUN = randomBytes(3).toString('hex')
const SECRET = randomBytes(32).toString('hex')
const base = mkdtempSync(join(tmpdir(), `ws-hs-${RUN}-`))
/** Shared by every service of a test, as instances on one host share them. */
const DAEMONS = join(base, 'd')
const instances: string[] = []
const nodes: RunningNode[] = []

afterAll(async () => {
  for (const n of [...nodes]) await stop(n).catch(() => undefined)
  for (const i of instances) await removeInstanceContainers(docker, i)
  rmSync(base, { recursive: true, force: true })
})

/** The service as `npm start` runs it, on this test's directories (no Redis). */
const start = async (instance: string, extra: Record<string, string> = {}) => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_PORT: '0',
    WATCH_PLUGINS: '0',
    WORKER_IMAGE,
    LOG_LEVEL: 'warn',
    SPAWNER_INSTANCE: instance,
    SPAWNER_TOKEN_SECRET: SECRET,
    WORKER_SOCKET_DIR: join(base, `s-${instance}`),
    // What this test is about, whatever the run forces: `extra` turns it off where it says so.
    WORKER_DAEMON: 'on',
    WORKER_DAEMON_DIR: DAEMONS,
    TRANSCRIPTS_DIR: join(base, 't'),
    WARM_POOLS: '',
    ...extra,
  }
  delete env.SPAWNER_API_TOKEN
  delete env.REDIS_URL
  const node = await startNode(env)
  nodes.push(node)
  return node
}

/** Stops a service and leaves its workers running (a restart). */
const stop = async (node: RunningNode) => {
  nodes.splice(nodes.indexOf(node), 1)
  node.spawner.pools?.close()
  await node.close()
}

const call = async (node: RunningNode, method: string, path: string, body?: unknown) => {
  const res = await fetch(node.url + path, {
    method,
    ...(body ? { headers: { 'content-type': 'application/json' } } : {}),
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, json: (await res.json()) as any }
}

const containerOf = async (workerId: string) => {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.workerId}=${workerId}`] },
  })
  return docker.getContainer(c!.Id).inspect()
}

/** The host file a container's state is kept in (beside its daemon directory). */
const hostStateOf = (name: string) =>
  join(
    DAEMONS,
    `${createHash('sha256').update(name.replace(/^\//, '')).digest('hex').slice(0, 16)}.state`,
  )

/** Runs `script` in a container as `user` through the Engine; its output and exit code. */
const inside = async (id: string, script: string, user = '0:0') => {
  const exec = await docker.getContainer(id).exec({
    Cmd: ['sh', '-c', script],
    User: user,
    AttachStdout: true,
    AttachStderr: true,
  })
  const stream = await exec.start({ hijack: true, stdin: false })
  let out = ''
  await new Promise<void>((resolve) => {
    docker.modem.demuxStream(
      stream,
      { write: (b: Buffer) => (out += b.toString()) } as never,
      { write: (b: Buffer) => (out += b.toString()) } as never,
    )
    stream.on('end', resolve)
  })
  return { out, exitCode: (await exec.inspect()).ExitCode }
}

describe('the worker state kept on the Docker host', () => {
  it('a hand-out keeps it beside the container, out of the agent’s reach, and a restart reads it', async () => {
    const instance = `hs-pool-${RUN}`
    instances.push(instance)
    const first = await start(instance, { WARM_POOLS: 'shell=1' })
    const pools = first.spawner.pools!
    await waitFor(() => pools.sizes().shell === 1, 120_000, 'the pool filled')
    const made = await call(first, 'POST', '/v1/workers', {
      agent: 'shell',
      ttlSeconds: 3600,
      env: { MARKER: `m-${RUN}` },
      files: { 'notes.txt': 'hi' },
    })
    expect(made.status).toBe(201)
    const workerId = made.json.workerId as string
    const info = await containerOf(workerId)
    // A pool container's labels are fixed at its start: it was a hit.
    expect(info.Config.Labels[LABELS.pool]).toBe('shell')

    // Nothing written into the container: the hand-out took no archive write for its state.
    const probe = await inside(info.Id, `test -e ${STATE_FILE}; echo $?`)
    expect(probe.out.trim()).toBe('1')
    const file = hostStateOf(info.Name)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(file, 'utf8')).workerId).toBe(workerId)

    // Not mounted: the container sees only its own daemon directory (the socket), read-only.
    const sources = (info.Mounts ?? []).map((m) => m.Source)
    expect(sources).not.toContain(DAEMONS)
    expect(sources.some((s) => file.startsWith(`${s}/`))).toBe(false)
    // The agent (uid 1000) finds it nowhere, and even root inside cannot plant one that counts.
    const agent = await call(first, 'POST', `/v1/workers/${workerId}/commands`, {
      shell:
        'ls -a /run/workers-spawner/daemon; cat /etc/workers-spawner.json; ' +
        'touch /run/workers-spawner/daemon/x.state',
    })
    expect(agent.json.stdout).not.toMatch(/\.state|"mac"/)
    expect(agent.json.exitCode).not.toBe(0)
    const longer = { v: 2, workerId, state: '{"ttlSeconds":2592000}', mac: 'x' }
    await inside(info.Id, `printf '%s' '${JSON.stringify(longer)}' > ${STATE_FILE}`)

    expect(
      (await call(first, 'PATCH', `/v1/workers/${workerId}`, { ttlSeconds: 7200 })).status,
    ).toBe(200)
    const before = (await call(first, 'GET', `/v1/workers/${workerId}`)).json
    await stop(first)

    const second = await start(instance)
    const again = await call(second, 'GET', `/v1/workers/${workerId}`)
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({
      ttlSeconds: 7200,
      createdAt: before.createdAt,
      expiresAt: before.expiresAt,
    })
    const env = await call(second, 'POST', `/v1/workers/${workerId}/commands`, {
      shell: 'printf %s "$MARKER"',
    })
    expect(env.json.stdout).toBe(`m-${RUN}`)
    // It goes with the worker.
    expect((await call(second, 'DELETE', `/v1/workers/${workerId}`)).status).toBe(200)
    expect(existsSync(file)).toBe(false)
  })

  it('a worker made with the daemons on keeps its state when the service runs with them off', async () => {
    const instance = `hs-off-${RUN}`
    instances.push(instance)
    const on = await start(instance)
    const made = await call(on, 'POST', '/v1/workers', { agent: 'shell', ttlSeconds: 3600 })
    expect(made.status).toBe(201)
    const workerId = made.json.workerId as string
    expect((await call(on, 'PATCH', `/v1/workers/${workerId}`, { ttlSeconds: 5400 })).status).toBe(
      200,
    )
    const info = await containerOf(workerId)
    expect(existsSync(hostStateOf(info.Name))).toBe(true)
    await stop(on)

    // Switched off, the service still reads (and writes) the state on the host: the worker is
    // recovered, not taken for one whose create never finished.
    const off = await start(instance, { WORKER_DAEMON: 'off' })
    const again = await call(off, 'GET', `/v1/workers/${workerId}`)
    expect(again.status).toBe(200)
    expect(again.json.ttlSeconds).toBe(5400)
    const ran = await call(off, 'POST', `/v1/workers/${workerId}/commands`, {
      argv: ['echo', 'ok'],
    })
    expect(ran.json).toMatchObject({ exitCode: 0, stdout: 'ok\n' })
    expect((await call(off, 'PATCH', `/v1/workers/${workerId}`, { ttlSeconds: 6000 })).status).toBe(
      200,
    )
    expect((await inside(info.Id, `test -e ${STATE_FILE}; echo $?`)).out.trim()).toBe('1')
    await stop(off)
    const later = await start(instance)
    expect((await call(later, 'GET', `/v1/workers/${workerId}`)).json.ttlSeconds).toBe(6000)
    expect((await call(later, 'DELETE', `/v1/workers/${workerId}`)).status).toBe(200)
  })
})
