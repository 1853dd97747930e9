import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenSigner } from '../src/core/auth/jwt.ts'
import { LABELS } from '../src/core/labels.ts'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const API_TOKEN = `api-${randomBytes(12).toString('hex')}`
const SECRET = randomBytes(24).toString('hex')
const ALL = ['respond', 'spawn', 'send', 'status', 'logs', 'delete', 'file']

describe('the orchestrator CLI inside real workers, with API auth', () => {
  const instance = `orch-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token: string | null = API_TOKEN,
  ) => {
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (body) headers['content-type'] = 'application/json'
    const res = await fetch(`http://127.0.0.1:${spawner.port}${path}`, {
      method,
      headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: (await res.json()) as any }
  }
  /** Runs the CLI inside a worker (as the agent would) and returns its exit code and output. */
  const orchestrator = async (workerId: string, args: string, env: Record<string, string> = {}) => {
    const r = await call('POST', `/v1/workers/${workerId}/commands`, {
      shell: `orchestrator ${args}`,
      env,
    })
    return {
      code: r.json.exitCode as number,
      out: r.json.stdout as string,
      err: r.json.stderr as string,
    }
  }
  const create = async (config: object) => {
    const r = await call('POST', '/v1/workers', { agent: 'shell', ...config })
    expect(r.status, JSON.stringify(r.json)).toBe(201)
    return r.json.workerId as string
  }

  beforeAll(async () => {
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      SPAWNER_API_TOKEN: API_TOKEN,
      SPAWNER_TOKEN_SECRET: SECRET,
    })
    expect(spawner.logs.some((l) => l.msg === 'listening for workers')).toBe(true)
  })
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  it('refuses /v1 calls without the bearer, or with a wrong or forged one, with the error JSON', async () => {
    for (const token of [null, 'wrong-token-0123456789', 'a.b.c']) {
      const r = await call('GET', '/v1/workers', undefined, token)
      expect(r.status).toBe(401)
      expect(r.json.error.code).toBe('unauthorized')
    }
    const forged = await new TokenSigner('a different secret, long enough!!').sign({
      sub: 'w-0123456789abcdef',
      tools: ALL,
      exp: 4_000_000_000,
    })
    expect((await call('GET', '/v1/workers', undefined, forged)).status).toBe(401)
    expect((await call('GET', '/healthz', undefined, null)).status).toBe(200)
  })

  it('gives each worker a token that works from inside, and only for what it allows', async () => {
    const parent = await create({ allowedTools: ALL, maxChildren: 2, maxDepth: 1 })
    const me = await orchestrator(parent, 'whoami --json')
    expect(me.code, me.err).toBe(0)
    expect(JSON.parse(me.out).result).toMatchObject({
      kind: 'worker',
      workerId: parent,
      tools: ALL,
    })

    // The token never shows in status, labels or logs.
    const env = await call('POST', `/v1/workers/${parent}/commands`, {
      shell: 'printf %s "$ORCHESTRATOR_TOKEN"',
    })
    const token = env.json.stdout as string
    expect(token.split('.')).toHaveLength(3)
    const status = await call('GET', `/v1/workers/${parent}`)
    expect(JSON.stringify(status.json)).not.toContain(token)
    const [c] = await docker.listContainers({
      filters: { label: [`${LABELS.workerId}=${parent}`] },
    })
    expect(JSON.stringify(c!.Labels)).not.toContain(token)
    expect(spawner.logs.map((l) => JSON.stringify(l)).join('\n')).not.toContain(token)

    // Sub-workers: spawn, use, quota.
    const spawned = await orchestrator(parent, 'spawn --agent shell --tool status --json')
    expect(spawned.code, spawned.out + spawned.err).toBe(0)
    const child = JSON.parse(spawned.out).result.workerId as string
    const sent = await orchestrator(parent, `send ${child} -- echo from-child`)
    expect(sent).toMatchObject({ code: 0, out: 'from-child\n' })
    const prompted = await orchestrator(parent, `spawn --agent shell --prompt "echo second"`)
    expect(prompted.code, prompted.err).toBe(0)
    expect(prompted.out).toContain('second')
    const third = await orchestrator(parent, 'spawn --agent shell')
    expect(third.code).toBe(3)
    expect(third.err).toMatch(/maxChildren 2/)

    // A child cannot get tools its parent lacks, and cannot spawn (maxDepth 0 below the parent).
    const childStatus = await orchestrator(child, `status ${child} --json`)
    expect(childStatus.code, childStatus.err).toBe(0)
    expect(JSON.parse(childStatus.out).result.parentId).toBe(parent)

    // Files both ways.
    const put = await call('POST', `/v1/workers/${parent}/commands`, {
      shell: `printf 'abc' > /tmp/in.txt && orchestrator file put ${child} /workspace/in.txt --from /tmp/in.txt && orchestrator file get ${child} /workspace/in.txt`,
    })
    expect(put.json.stdout).toBe('wrote 3 bytes to /workspace/in.txt\nabc')

    // respond publishes an event; logs work.
    expect((await orchestrator(parent, 'respond halfway there')).code).toBe(0)
    expect((await orchestrator(parent, `logs ${child} --tail 5`)).out).toContain(
      'workers-spawner: ready',
    )

    // Deleting the parent removes its children.
    const del = await call('DELETE', `/v1/workers/${parent}`)
    expect(del.json.children.length).toBe(2)
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.parent}=${parent}`] },
    })
    expect(left).toEqual([])
    // Its token died with it.
    expect((await call('GET', `/v1/whoami`, undefined, token)).status).toBe(401)
  })

  it('refuses a tool the worker lacks on the server, even when the CLI check is bypassed', async () => {
    const limited = await create({ allowedTools: ['status'] })
    const other = await create({ allowedTools: ALL })
    const early = await orchestrator(limited, `delete ${limited}`)
    expect(early.code).toBe(3)
    expect(early.err).toMatch(/lacks the tool 'delete'/)
    const bypassed = await orchestrator(limited, `delete ${limited}`, {
      ORCHESTRATOR_ALLOWED_TOOLS: 'status,delete',
    })
    expect(bypassed.code).toBe(3)
    expect(bypassed.err).toMatch(/lacks the tool 'delete'/)
    // An isolated worker's ORCHESTRATOR_URL is unix://<socket>: curl goes through the socket.
    const curl = await call('POST', `/v1/workers/${limited}/commands`, {
      shell: `curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "authorization: Bearer $ORCHESTRATOR_TOKEN" --unix-socket "\${ORCHESTRATOR_URL#unix://}" "http://localhost/v1/workers/${limited}"`,
    })
    expect(curl.json.stdout).toBe('403')
    // Not its worker: another worker is out of reach, whatever its tools.
    const foreign = await orchestrator(other, `status ${limited}`)
    expect(foreign.code).toBe(3)
    expect(foreign.err).toMatch(/only on itself and the workers it spawned/)
    expect((await call('GET', `/v1/workers/${limited}`)).json.state).toBe('running')
  })

  it('refuses an expired worker token', async () => {
    const id = await create({ allowedTools: ['status'] })
    const expired = await new TokenSigner(SECRET).sign({
      sub: id,
      tools: ['status'],
      exp: Math.floor(Date.now() / 1000) - 5,
    })
    const r = await call('GET', `/v1/workers/${id}`, undefined, expired)
    expect(r.status).toBe(401)
    expect(r.json.error.message).toMatch(/expired/)
    const fresh = await new TokenSigner(SECRET).sign({
      sub: id,
      tools: ['status'],
      exp: Math.floor(Date.now() / 1000) + 60,
    })
    expect((await call('GET', `/v1/workers/${id}`, undefined, fresh)).status).toBe(200)
  })

  it('will not listen on a non-loopback address without a token', async () => {
    await expect(
      startSpawner(
        { HOST: '0.0.0.0', SPAWNER_INSTANCE: `${instance}-open`, SPAWNER_API_TOKEN: '' },
        15_000,
      ),
    ).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without SPAWNER_API_TOKEN/)
  })
})
