import { randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { collectSse } from './support/sse.ts'

/**
 * The egress proxy, through the service as `npm start` runs it: a worker's connections out go
 * through it, to the hosts its allow list names and nowhere else. The destinations are
 * listeners of this test on loopback, named through EGRESS_HOSTS (loopback is refused unless
 * EGRESS_PRIVATE_ALLOW lets it through, as here for 127.0.0.1 only); the npm registry is the
 * one outside host, as the issue asks.
 */
describe('the egress proxy', () => {
  const run = randomBytes(4).toString('hex')
  const labels = { 'test-run': run }
  let server: Server
  let port = 0
  let spawner: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>

  beforeAll(async () => {
    server = createServer((req, res) => res.end(`hello from ${req.headers.host}\n`))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
    // This machine's registry answers at an address reserved for documentation (its network
    // routes it), which the proxy refuses like any private one: allowed here by address, exactly.
    const registry = (await lookup('registry.npmjs.org', { all: true })).map((a) => a.address)
    spawner = await startSpawner({
      SPAWNER_INSTANCE: `egress-${run}`,
      EGRESS_HOSTS: 'allowed.test=127.0.0.1,denied.test=127.0.0.1',
      EGRESS_PRIVATE_ALLOW: ['127.0.0.1', ...registry].join(','),
    })
    call = spawnerClient(spawner)
  }, 120_000)
  afterAll(async () => {
    const { workers } = (await call?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
    for (const w of workers ?? []) await call('DELETE', `/v1/workers/${w.workerId}`)
    await spawner?.kill()
    await new Promise<void>((resolve) => server?.close(() => resolve()))
  })

  const create = async (config: object) => {
    const res = await call('POST', '/v1/workers', { agent: 'shell', labels, ...config })
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    return res.json.workerId as string
  }
  const sh = async (workerId: string, shell: string, timeoutMs = 60_000) => {
    const res = await call('POST', `/v1/workers/${workerId}/commands`, { shell, timeoutMs })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    return res.json as { stdout: string; stderr: string; exitCode: number }
  }

  it('lets an allowed name through, refuses another with a message and an event', async () => {
    const events = await collectSse(`http://127.0.0.1:${spawner.port}/v1/events`)
    const id = await create({ network: { allow: [`allowed.test:${port}`] } })
    // Plain HTTP (absolute-form) and a CONNECT tunnel (-p), as https would use.
    const plain = await sh(id, `curl -sS http://allowed.test:${port}/`)
    expect(plain.stdout).toBe(`hello from allowed.test:${port}\n`)
    const tunnel = await sh(id, `curl -sS -p http://allowed.test:${port}/`)
    expect(tunnel.stdout).toBe(`hello from allowed.test:${port}\n`)

    const denied = await sh(id, `curl -sS http://denied.test:${port}/ -w '%{http_code}'`)
    expect(denied.stdout).toContain('403')
    expect(denied.stdout).toContain("not in this worker's network allowlist")
    const deniedTunnel = await sh(id, `curl -sS -p http://denied.test:${port}/`)
    expect(deniedTunnel.exitCode).not.toBe(0)
    expect(deniedTunnel.stderr).toMatch(/CONNECT tunnel failed, response 403/)
    // Another port of an allowed name is another destination.
    const otherPort = await sh(id, `curl -sS -p http://allowed.test:${port + 1}/`)
    expect(otherPort.exitCode).not.toBe(0)

    const text = await events.stop()
    const refusals = text.split('\n').filter((l) => l.includes('"type":"egress_denied"'))
    expect(refusals.filter((l) => l.includes(id) && l.includes('denied.test'))).toHaveLength(2)
    const status = (await call('GET', `/v1/workers/${id}`)).json
    expect(status.network).toEqual({ allow: [`allowed.test:${port}`] })
    expect(status.connections).toEqual({ allowed: 2, denied: 3 })
  })

  it('reaches nothing by default: the operator default denies every host, saying why', async () => {
    const id = await create({})
    const out = await sh(id, `curl -sS http://allowed.test:${port}/ -w ' %{http_code}'`)
    expect(out.stdout).toMatch(/allowlist[\s\S]* 403$/)
  })

  it("gives a 'none' worker no proxy and no route out", async () => {
    const id = await create({ network: 'none' })
    const env = await sh(id, 'env | grep -ci _proxy || true')
    expect(env.stdout.trim()).toBe('0')
    const out = await sh(id, `curl -sS --max-time 5 http://127.0.0.1:${port}/`)
    expect(out.exitCode).not.toBe(0)
  })

  it('installs a package from the npm registry through the proxy', async () => {
    const id = await create({ network: { allow: ['registry.npmjs.org:443'] } })
    const out = await sh(id, 'cd /tmp && npm view is-number@7.0.0 version', 180_000)
    expect(out.stdout.trim(), out.stderr).toBe('7.0.0')
    const installed = await sh(
      id,
      'mkdir -p /tmp/p && cd /tmp/p && npm install --no-audit --no-fund is-number@7.0.0 >/dev/null && node -e "console.log(require(\'is-number\')(5))"',
      180_000,
    )
    expect(installed.stdout.trim(), installed.stderr).toBe('true')
  }, 400_000)
})
