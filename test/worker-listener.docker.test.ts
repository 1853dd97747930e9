import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

describe('the listener workers reach (npm start, loopback HOST)', () => {
  const instance = `wlisten-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let open: string
  let isolated: string

  const call = (method: string, path: string, body?: unknown) =>
    spawnerClient(spawner)(method, path, body)

  beforeAll(async () => {
    spawner = await startSpawner({ SPAWNER_INSTANCE: instance, WORKER_IMAGE })
    const made = await Promise.all(
      ['open', 'isolated'].map((network) =>
        call('POST', '/v1/workers', { agent: 'shell', network }),
      ),
    )
    for (const m of made) expect(m.status, JSON.stringify(m.json)).toBe(201)
    ;[open, isolated] = made.map((m) => m.json.workerId as string) as [string, string]
  })
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  it('serves a worker its /v1 routes and /healthz, not the docs, the API document or readiness', async () => {
    // From inside each worker, as the agent would: the status of each path on ORCHESTRATOR_URL
    // (the bridge listener for an open worker, the socket for an isolated one).
    const paths = ['/healthz', '/v1/whoami', '/docs', '/openapi.json', '/readyz']
    const script = [
      'u="$ORCHESTRATOR_URL"; s=',
      'case "$u" in unix://*) s="--unix-socket ${u#unix://}"; u=http://worker-api ;; esac',
      ...paths.map(
        (p) =>
          `printf '%s ' "$(curl -s $s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $ORCHESTRATOR_TOKEN" "$u${p}")"`,
      ),
    ].join('\n')
    for (const workerId of [open, isolated]) {
      const r = await call('POST', `/v1/workers/${workerId}/commands`, { shell: script })
      expect(r.json.exitCode, r.json.stderr).toBe(0)
      expect(
        Object.fromEntries(paths.map((p, i) => [p, r.json.stdout.trim().split(' ')[i]])),
        workerId,
      ).toEqual({
        '/healthz': '200',
        '/v1/whoami': '200',
        '/docs': '404',
        '/openapi.json': '404',
        '/readyz': '404',
      })
    }
    // The operator's listener still serves them.
    for (const path of ['/docs', '/openapi.json', '/readyz']) {
      expect((await fetch(`http://127.0.0.1:${spawner.port}${path}`)).status, path).toBe(200)
    }
  })
})
