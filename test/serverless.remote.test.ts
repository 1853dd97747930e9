import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleWorker } from '../scripts/bundle-worker.ts'
import { DockerRuntime } from '../src/docker/docker-runtime.ts'
import { startLocalAgent, type LocalAgent } from './support/host-agent.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })

const TOKEN_SECRET = 'serverless-token-secret-0123456789abcdef'

/** Starts `worker.mjs` (in `dir`) under `workerd serve` on `port`, with these text bindings. */
const serveWorkerd = (
  dir: string,
  name: string,
  port: number,
  bindings: Record<string, string>,
): ChildProcess => {
  const texts = Object.entries(bindings).map(([k, v]) => `  (name = "${k}", text = "${v}"),`)
  writeFileSync(
    join(dir, `${name}.capnp`),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
services = [
  (name = "main", worker = .core),
  (name = "internet", network = (allow = ["public", "private", "local"])),
],
sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const core :Workerd.Worker = (
modules = [ (name = "worker.mjs", esModule = embed "worker.mjs") ],
compatibilityDate = "2026-11-01",
bindings = [
${texts.join('\n')}
],
globalOutbound = "internet",
);
`,
  )
  return spawn(workerdBin(), ['serve', join(dir, `${name}.capnp`)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

const workerdBin = () =>
  join(createRequire(import.meta.url).resolve('workerd/package.json'), '..', 'bin', 'workerd')

/** The core flow against a serverless core at `base` (API token 'serverless-api-token-0123'). */
const exerciseCore = async (base: string, log: () => string) => {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token = 'serverless-api-token-0123',
  ) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: (await res.json()) as any }
  }
  expect((await call('GET', '/v1/workers', undefined, 'wrong')).status).toBe(401)
  const plugins = await call('GET', '/v1/plugins')
  expect(plugins.json.plugins.map((p: { name: string }) => p.name)).toEqual(
    expect.arrayContaining(['shell', 'claude-code', 'git']),
  )
  const created = await call('POST', '/v1/workers', {
    agent: 'shell',
    labels: { 'test-run': 'serverless' },
  })
  expect(created.status, JSON.stringify(created.json) + log()).toBe(201)
  const id = created.json.workerId
  const out = await call('POST', `/v1/workers/${id}/commands`, {
    shell: 'echo from-workerd; uname -s',
  })
  expect(out.json).toMatchObject({ exitCode: 0, stdout: 'from-workerd\nLinux\n' })
  const prompt = await call('POST', `/v1/workers/${id}/commands`, { prompt: 'echo 12' })
  expect(prompt.json.reply.text).toBe('12')
  expect((await call('POST', `/v1/workers/${id}/pause`)).json.state).toBe('paused')
  expect(
    (await call('POST', `/v1/workers/${id}/commands`, { shell: 'echo resumed' })).json.stdout,
  ).toBe('resumed\n')
  expect((await call('DELETE', `/v1/workers/${id}`)).json.deleted).toBe(true)
  expect((await call('GET', `/v1/workers/${id}`)).status).toBe(404)
}

/** Polls `url` until it answers (200 unless `anyStatus`), or fails with the process log. */
const waitUp = async (url: string, proc: ChildProcess, log: () => string, anyStatus = false) => {
  const until = Date.now() + 60_000
  for (;;) {
    try {
      const res = await fetch(url)
      if (res.ok || anyStatus) return
    } catch {
      // not up yet
    }
    if (Date.now() > until || proc.exitCode !== null) throw new Error(`did not start: ${log()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('the serverless bundle', () => {
  let dir: string
  let outfile: string
  let metafile: Awaited<ReturnType<typeof bundleWorker>>['metafile']

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ws-serverless-'))
    ;({ outfile, metafile } = await bundleWorker(join(dir, 'worker.mjs')))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reaches no dockerode, ioredis or node: module', () => {
    const inputs = Object.keys(metafile.inputs)
    expect(
      inputs.filter((i) => /node_modules\/(dockerode|docker-modem|ioredis|ssh2)\//.test(i)),
    ).toEqual([])
    expect(inputs.some((i) => i.includes('src/core/service.ts'))).toBe(true)
    expect(inputs.some((i) => i.includes('plugins/claude-code/index.ts'))).toBe(true)
    // The bundle's boundary is a folder: the remote runtime, never the Node-only ones.
    expect(inputs.some((i) => i.includes('src/remote/remote-runtime.ts'))).toBe(true)
    expect(inputs.filter((i) => /src\/(docker|host-agent|node|redis)\//.test(i))).toEqual([])
    const code = readFileSync(outfile, 'utf8')
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:|import\(["']node:/)
    expect(code).not.toMatch(/from\s*["'](fs|net|child_process|os|crypto)["']/)
  })

  /** Runs the bundle under a local server (`launch` starts it on `port`) against a host agent. */
  const describeServed = (
    title: string,
    launch: (agent: LocalAgent, port: number) => ChildProcess,
  ) =>
    describe(title, () => {
      let agent: LocalAgent
      let server: ChildProcess
      let base: string
      let log = ''

      beforeAll(async () => {
        agent = await startLocalAgent(new DockerRuntime())
        const port = await freePort()
        base = `http://127.0.0.1:${port}`
        server = launch(agent, port)
        server.stdout!.on('data', (d: Buffer) => (log += d.toString()))
        server.stderr!.on('data', (d: Buffer) => (log += d.toString()))
        await waitUp(`${base}/healthz`, server, () => log)
      })
      afterAll(async () => {
        server?.kill()
        await agent?.close()
      })

      it('serves the core through the host agent: create, commands, prompt, pause/resume, delete', async () => {
        await exerciseCore(base, () => log)
      })
    })

  it('refuses to serve without SPAWNER_API_TOKEN, and never calls the host agent', async () => {
    // A listener of our own stands in for the host agent: it must see no connection at all.
    let connections = 0
    const decoy = createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve))
    const decoyUrl = `http://127.0.0.1:${(decoy.address() as { port: number }).port}`
    const port = await freePort()
    const server = serveWorkerd(dir, 'unconfigured', port, {
      HOST_AGENT_URL: decoyUrl,
      HOST_AGENT_TOKEN: 'decoy-agent-token-0123456789',
      SPAWNER_TOKEN_SECRET: TOKEN_SECRET,
    })
    let log = ''
    server.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    server.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    try {
      await waitUp(`http://127.0.0.1:${port}/healthz`, server, () => log, true)
      for (const [method, path, body] of [
        ['GET', '/v1/workers', undefined],
        ['POST', '/v1/workers', JSON.stringify({ agent: 'shell', env: { AGENT_COMMAND: 'id' } })],
        ['GET', '/healthz', undefined],
      ] as const) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
        })
        expect(res.status, `${method} ${path}`).toBe(503)
        expect(((await res.json()) as any).error).toMatchObject({
          code: 'not_configured',
          message: expect.stringContaining('SPAWNER_API_TOKEN'),
        })
      }
      expect(connections).toBe(0)
    } finally {
      server.kill()
      decoy.close()
    }
  })

  describeServed('under workerd, against a host agent on this machine', (agent, port) =>
    serveWorkerd(dir, 'config', port, {
      HOST_AGENT_URL: agent.url,
      HOST_AGENT_TOKEN: agent.token,
      SPAWNER_API_TOKEN: 'serverless-api-token-0123',
      SPAWNER_TOKEN_SECRET: TOKEN_SECRET,
      WORKER_IMAGE,
    }),
  )

  describeServed(
    'under `wrangler dev` (wrangler 3 runs on Node 20), against a host agent',
    (agent, port) => {
      writeFileSync(
        join(dir, 'wrangler.toml'),
        [
          'name = "workers-spawner-dev"',
          'main = "worker.mjs"',
          'compatibility_date = "2024-09-01"',
          'no_bundle = true',
          '[vars]',
          `HOST_AGENT_URL = "${agent.url}"`,
          `HOST_AGENT_TOKEN = "${agent.token}"`,
          'SPAWNER_API_TOKEN = "serverless-api-token-0123"',
          `SPAWNER_TOKEN_SECRET = "${TOKEN_SECRET}"`,
          `WORKER_IMAGE = "${WORKER_IMAGE}"`,
          '',
        ].join('\n'),
      )
      const bin = join(
        createRequire(import.meta.url).resolve('wrangler/package.json'),
        '..',
        'bin',
        'wrangler.js',
      )
      return spawn(process.execPath, [bin, 'dev', '--port', String(port), '--ip', '127.0.0.1'], {
        cwd: dir,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    },
  )
})
