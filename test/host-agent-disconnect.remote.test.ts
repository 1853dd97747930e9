import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ContainerSpec } from '../src/core/runtime.ts'
import { DockerRuntime } from '../src/docker/docker-runtime.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { startLocalAgent, type LocalAgent } from './support/host-agent.ts'

const RUN = randomBytes(4).toString('hex')

const spec = (): ContainerSpec => ({
  name: `ws-test-disconnect-${RUN}`,
  image: WORKER_IMAGE,
  env: {},
  labels: { 'workers-spawner.test.run': RUN },
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 256 * 2 ** 20,
  nanoCpus: 1e9,
  pidsLimit: 100,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})

describe('host agent exec over a real connection', () => {
  let agent: LocalAgent
  let id: string
  beforeAll(async () => {
    agent = await startLocalAgent(new DockerRuntime())
    id = await agent.runtime.run(spec())
  })
  afterAll(async () => {
    await agent?.runtime.remove(id)
    await agent?.close()
  })

  const live = async () =>
    (
      await agent.runtime.exec(id, {
        argv: ['sh', '-c', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done`],
      })
    ).stdout

  it('kills the command when the client disconnects mid-stream', async () => {
    const disconnect = new AbortController()
    const res = await fetch(`${agent.url}/v1/containers/${id}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ argv: ['sh', '-c', 'echo started; sleep 1011'] }),
      signal: disconnect.signal,
    })
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    const first = await res.body!.getReader().read()
    expect(JSON.parse(new TextDecoder().decode(first.value))).toEqual({
      stream: 'stdout',
      data: 'started\n',
    })
    expect(await live()).toContain('sleep 1011')
    disconnect.abort()
    const deadline = Date.now() + 10_000
    while ((await live()).includes('sleep 1011') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(await live()).not.toContain('sleep 1011')
  })

  it('refuses a call without the token', async () => {
    const res = await fetch(`${agent.url}/v1/containers/${id}`)
    expect(res.status).toBe(401)
    expect(await fetch(`${agent.url}/healthz`).then((r) => r.json())).toEqual({
      ok: true,
      name: 'test-agent',
    })
  })
})
