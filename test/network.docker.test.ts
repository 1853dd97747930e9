import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { bridgeGateway } from '../src/node/auth-setup.ts'
import { startAgentProcess, type AgentProcess } from './support/host-agent.ts'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const API_TOKEN = `api-${randomBytes(12).toString('hex')}`
const SECRET = randomBytes(24).toString('hex')
const SOCKET = '/run/workers-spawner/api/api.sock'
// With TEST_RUNTIME=remote the containers run on a host agent, which relays the socket.
const REMOTE = process.env.TEST_RUNTIME === 'remote'

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

/** A bounded connect attempt from inside a container: prints `ok` or `refused` (never hangs). */
const tryConnect = (ip: string, port: number) =>
  `if timeout 10 bash -c 'exec 3<>/dev/tcp/${ip}/${port}' 2>/dev/null; then echo ok; else echo refused; fi`

/**
 * A listener inside a worker on port 8000 that appends each peer's address to /tmp/conns;
 * the command returns once it listens.
 */
const LISTEN = [
  "cat > /tmp/listen.py <<'EOF'",
  'import socket',
  's = socket.socket()',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  "s.bind(('0.0.0.0', 8000))",
  's.listen(16)',
  "open('/tmp/ready', 'w').write('1')",
  'while True:',
  '    c, peer = s.accept()',
  "    with open('/tmp/conns', 'a') as f: f.write(peer[0] + '\\n')",
  '    c.close()',
  'EOF',
  'setsid python3 /tmp/listen.py > /tmp/listen.log 2>&1 < /dev/null &',
  'timeout 30 sh -c "until [ -s /tmp/ready ]; do sleep 0.05; done" && echo listening',
].join('\n')

describe('what a worker can reach', () => {
  const instance = `net-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const dir = mkdtempSync(join(tmpdir(), 'ws-net-'))
  let agent: AgentProcess | undefined
  let spawner: SpawnerProcess
  let gateway: string
  let listener: Server
  /** Peers that reached the listener on the bridge gateway, and a wait for the next one. */
  const peers: string[] = []
  let nextPeer: (() => void) | undefined

  const call = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${API_TOKEN}` }
    if (body) headers['content-type'] = 'application/json'
    const res = await fetch(`http://127.0.0.1:${spawner.port}${path}`, {
      method,
      headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: (await res.json()) as any }
  }
  const create = async (config: object = {}) => {
    const r = await call('POST', '/v1/workers', { agent: 'shell', ...config })
    expect(r.status, JSON.stringify(r.json)).toBe(201)
    return r.json.workerId as string
  }
  const sh = async (workerId: string, shell: string) => {
    const r = await call('POST', `/v1/workers/${workerId}/commands`, { shell, timeoutMs: 60_000 })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    return r.json as { exitCode: number; stdout: string; stderr: string }
  }
  const inspect = async (workerId: string) => {
    const [c] = await docker.listContainers({
      filters: { label: [`${LABELS.workerId}=${workerId}`] },
    })
    return docker.getContainer(c!.Id).inspect()
  }
  const ipOf = async (workerId: string) =>
    (await inspect(workerId)).NetworkSettings.Networks.bridge!.IPAddress

  beforeAll(async () => {
    gateway = (await bridgeGateway(docker)) ?? ''
    expect(gateway, 'the Docker bridge gateway').toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    listener = createServer((socket) => {
      peers.push(socket.remoteAddress ?? '')
      socket.destroy()
      nextPeer?.()
    })
    await new Promise<void>((resolve) => listener.listen(0, gateway, resolve))

    const env = {
      SPAWNER_INSTANCE: instance,
      SPAWNER_API_TOKEN: API_TOKEN,
      SPAWNER_TOKEN_SECRET: SECRET,
    }
    if (REMOTE) {
      const agentPort = await freePort()
      const token = randomBytes(24).toString('hex')
      agent = await startAgentProcess({
        HOST_AGENT_PORT: String(agentPort),
        HOST_AGENT_TOKEN: token,
        HOST_AGENT_NAME: 'net-agent',
        HOST_AGENT_WORKER_SOCKET_DIR: dir,
      })
      const port = await freePort()
      spawner = await startSpawner({
        ...env,
        PORT: String(port),
        HOST_AGENT_URL: `http://127.0.0.1:${agentPort}`,
        HOST_AGENT_TOKEN: token,
        ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
      })
    } else {
      spawner = await startSpawner({ ...env, WORKER_SOCKET_DIR: dir })
    }
  })
  afterAll(async () => {
    await spawner?.kill()
    await agent?.kill()
    listener?.close()
    await removeInstanceContainers(docker, instance)
    rmSync(dir, { recursive: true, force: true })
  })

  it('an isolated worker (the default) reaches neither the host gateway nor other workers; an open one does', async () => {
    const open = await create({ network: 'open' })
    const other = await create({ network: 'open' })
    const isolated = await create()
    const isolated2 = await create()
    const port = (listener.address() as { port: number }).port

    // Isolated: Docker's `none` network, nothing but loopback.
    for (const id of [isolated, isolated2]) {
      const info = await inspect(id)
      expect(info.HostConfig.NetworkMode).toBe('none')
      expect(Object.values(info.NetworkSettings.Networks).map((n) => n.IPAddress)).toEqual([''])
      expect((await sh(id, 'ls /sys/class/net')).stdout).toBe('lo\n')
    }
    expect((await sh(isolated, 'getent hosts host.docker.internal || echo unknown')).stdout).toBe(
      'unknown\n',
    )

    // Listeners inside an open worker and inside an isolated one (reachable on its own loopback).
    expect((await sh(open, LISTEN)).stdout).toBe('listening\n')
    expect((await sh(isolated2, LISTEN)).stdout).toBe('listening\n')
    expect((await sh(isolated2, tryConnect('127.0.0.1', 8000))).stdout).toBe('ok\n')
    const openIp = await ipOf(open)

    // The isolated worker tries the host's bridge gateway and the open worker: both refused.
    expect((await sh(isolated, tryConnect(gateway, port))).stdout).toBe('refused\n')
    expect((await sh(isolated, tryConnect(openIp, 8000))).stdout).toBe('refused\n')

    // Positive controls: an open worker reaches the gateway listener and the other open worker.
    const reached = new Promise<void>((resolve) => (nextPeer = resolve))
    expect((await sh(other, tryConnect(gateway, port))).stdout).toBe('ok\n')
    await reached
    expect(peers).toEqual([await ipOf(other)])
    expect((await sh(other, tryConnect(openIp, 8000))).stdout).toBe('ok\n')
    const conns = await sh(
      open,
      'timeout 30 sh -c "until [ -s /tmp/conns ]; do sleep 0.05; done"; cat /tmp/conns',
    )
    // One peer only: the open worker. The isolated worker's attempt never arrived.
    expect(conns.stdout).toBe(`${await ipOf(other)}\n`)
    // The isolated listener saw only its own loopback probe.
    expect((await sh(isolated2, 'cat /tmp/conns')).stdout).toBe('127.0.0.1\n')
  })

  it('an isolated worker reaches the service through its socket, only with its worker token', async () => {
    const id = await create({ allowedTools: ['send'] })
    expect((await sh(id, 'printf %s "$ORCHESTRATOR_URL"')).stdout).toBe(`unix://${SOCKET}`)
    const me = await sh(id, 'orchestrator whoami --json')
    expect(me.exitCode, me.stderr).toBe(0)
    expect(JSON.parse(me.stdout).result).toMatchObject({
      kind: 'worker',
      workerId: id,
      tools: ['send'],
    })

    const curl = `curl -s -o /dev/null -w '%{http_code}' --unix-socket ${SOCKET}`
    expect((await sh(id, `${curl} http://localhost/v1/whoami`)).stdout).toBe('401')
    expect(
      (
        await sh(
          id,
          `${curl} -H 'authorization: Bearer forged.token.value' http://localhost/v1/whoami`,
        )
      ).stdout,
    ).toBe('401')
    expect(
      (
        await sh(
          id,
          `${curl} -H "authorization: Bearer $ORCHESTRATOR_TOKEN" http://localhost/v1/whoami`,
        )
      ).stdout,
    ).toBe('200')

    // Event streams pass through (the worker runs a command on itself and reads it as SSE).
    const sse = await sh(
      id,
      `curl -sN --unix-socket ${SOCKET} -H "authorization: Bearer $ORCHESTRATOR_TOKEN" ` +
        `-H 'content-type: application/json' -H 'accept: text/event-stream' ` +
        `-d '{"shell":"echo streamed"}' http://localhost/v1/workers/${id}/commands`,
    )
    expect(sse.stdout).toMatch(/event: output\ndata: .*streamed/)
    expect(sse.stdout).toMatch(/event: result\n/)

    // The mount is read-only: the agent cannot put anything of its own in the socket's place.
    const tamper = await sh(
      id,
      `rm -f ${SOCKET}; touch /run/workers-spawner/api/x; test -S ${SOCKET} && echo kept`,
    )
    expect(tamper.stdout).toBe('kept\n')
    expect(tamper.stderr).toMatch(/Read-only file system/)
  })

  it('an open worker reaches the service over TCP, the way it did before', async () => {
    const id = await create({ network: 'open' })
    const url = (await sh(id, 'printf %s "$ORCHESTRATOR_URL"')).stdout
    expect(url).toMatch(/^http:\/\//)
    // In-process Docker: the listener on the bridge. Through a host agent, ORCHESTRATOR_URL
    // here is the core's loopback address, which no container reaches.
    if (!REMOTE) expect((await sh(id, 'orchestrator whoami')).exitCode).toBe(0)
  })
})
