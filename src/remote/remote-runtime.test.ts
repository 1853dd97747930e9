import { describe, expect, it } from 'vitest'
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  SpawnerError,
  UnavailableError,
} from '../core/errors.ts'
import type { ContainerRuntime, ContainerSpec, ExecResult } from '../core/runtime.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { fakeAgent } from '../../test/support/host-agent.ts'
import { RemoteRuntime } from './remote-runtime.ts'

const spec = (name = 'ws-a'): ContainerSpec => ({
  name,
  image: 'img',
  env: {},
  labels: { 'workers-spawner.managed': 'true' },
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 512 * 2 ** 20,
  nanoCpus: 1e9,
  pidsLimit: 100,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})

/** A runtime whose every method throws `err`. */
const throwing = (err: Error) =>
  new Proxy({} as ContainerRuntime, {
    get: () => async () => {
      throw err
    },
  })

const ok: ExecResult = { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }

describe('RemoteRuntime errors', () => {
  it.each([
    ['NotFoundError', new NotFoundError('No such container: abc')],
    ['ConflictError', new ConflictError('Container abc is paused', 'worker_busy')],
    ['PayloadTooLargeError', new PayloadTooLargeError('/x is larger than 10 bytes')],
    [
      'BadRequestError',
      new BadRequestError('path must be absolute: x', [{ path: 'path' }], 'path_not_allowed'),
    ],
    [
      'UnavailableError',
      new UnavailableError('Docker Engine not reachable at unix:///x.sock (ENOENT)'),
    ],
    [
      'SpawnerError',
      new SpawnerError('image_build_failed', 'building t failed: exit 7\nabout to fail'),
    ],
    ['SpawnerError', new SpawnerError('docker_error', 'docker: oops')],
  ])(
    "rethrows the agent runtime's %s as the same class, code, status and message",
    async (cls, err) => {
      const { remote } = fakeAgent('a', throwing(err))
      for (const call of [
        () => remote.pause('abc'),
        () => remote.getFile('abc', '/x'),
        () => remote.exec('abc', { argv: ['true'] }),
        () => remote.buildImage('t', 'FROM x'),
        () => remote.followLogs('abc', {}, () => {}, new AbortController().signal),
      ]) {
        const got = await call().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(got).toBeInstanceOf(SpawnerError)
        expect((got as Error).constructor.name).toBe(cls)
        expect(got).toMatchObject({ code: err.code, kind: err.kind, message: err.message })
        expect((got as SpawnerError).details).toEqual(err.details)
      }
    },
  )

  it('rethrows an error that follows streamed output, which still arrived', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    runtime.onExec = async (_id, req) => {
      req.onOutput?.('stdout', 'partial\n')
      throw new UnavailableError('Docker Engine not reachable')
    }
    const { remote } = fakeAgent('a', runtime)
    const seen: string[] = []
    const err = await remote
      .exec(id, { argv: ['x'], onOutput: (_s, d) => seen.push(d) })
      .catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toBe('Docker Engine not reachable')
    expect(seen).toEqual(['partial\n'])
  })

  it('inspects a missing container as undefined, and a bad spec is a 400', async () => {
    const { remote } = fakeAgent('a', new MemoryRuntime())
    expect(await remote.inspect('nope')).toBeUndefined()
    await remote.remove('nope')
    const err = await remote.run({ ...spec(), memoryBytes: -1 }).catch((e) => e)
    expect(err).toBeInstanceOf(BadRequestError)
    expect(err.message).toMatch(/memoryBytes/)
  })

  it('is a 503 naming the agent when it cannot be reached', async () => {
    const agent = fakeAgent('docker-1', new MemoryRuntime())
    agent.down = true
    const err = await agent.remote.list({}).catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err).toMatchObject({ kind: 'unavailable', code: 'unavailable' })
    expect(err.message).toBe(
      'host agent docker-1 not reachable at http://docker-1.test:8081 (ECONNREFUSED)',
    )

    const closed = new RemoteRuntime({ url: 'http://127.0.0.1:9', timeoutMs: 5000 })
    await expect(closed.ping()).rejects.toThrow(UnavailableError)
  })

  it('is a 503 when the agent does not answer in time', async () => {
    const remote = new RemoteRuntime({
      url: 'http://slow.test',
      timeoutMs: 50,
      fetch: (_url, init) =>
        new Promise((_, reject) =>
          init.signal?.addEventListener('abort', () =>
            reject(new DOMException('aborted', 'AbortError')),
          ),
        ),
    })
    await expect(remote.ping()).rejects.toThrow(
      'host agent slow.test (http://slow.test) did not answer in 50 ms',
    )
  })

  it('is a 503 host_agent_unauthorized, not a 401, when the token is wrong', async () => {
    const agent = fakeAgent('a', new MemoryRuntime())
    const wrong = new RemoteRuntime({
      url: 'http://a.test',
      token: 'not-the-token-at-all',
      fetch: (input, init) => agent.app.request(input, init),
    })
    const err = await wrong.ping().catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err).toMatchObject({ kind: 'unavailable', code: 'host_agent_unauthorized' })
    expect(err.message).toMatch(/HOST_AGENT_TOKEN/)
  })
})

describe('RemoteRuntime calls', () => {
  it('round-trips every byte value through putFile and getFile', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    const { remote } = fakeAgent('a', runtime)
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    await remote.putFile(id, '/workspace/all.bin', bytes, { mode: 0o600 })
    expect(await remote.getFile(id, '/workspace/all.bin')).toEqual(bytes)
  })

  it('streams exec output in order, then returns the result', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    runtime.onExec = async (_id, req) => {
      req.onOutput?.('stdout', 'a\n')
      req.onOutput?.('stderr', 'b\n')
      req.onOutput?.('stdout', 'c€\n')
      return { ...ok, stdout: 'a\nc€\n', stderr: 'b\n' }
    }
    const { remote } = fakeAgent('a', runtime)
    const seen: string[] = []
    const result = await remote.exec(id, {
      argv: ['x'],
      onOutput: (s, d) => seen.push(`${s}:${d}`),
    })
    expect(seen).toEqual(['stdout:a\n', 'stderr:b\n', 'stdout:c€\n'])
    expect(result).toEqual({ ...ok, stdout: 'a\nc€\n', stderr: 'b\n' })
  })

  it('cancels an aborted exec on the agent and still returns its result', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    let killed = false
    runtime.onExec = async (_id, req) => {
      req.onOutput?.('stdout', 'started\n')
      await new Promise((resolve) => req.signal?.addEventListener('abort', resolve, { once: true }))
      killed = true
      return { ...ok, exitCode: 130, stdout: 'started\n' }
    }
    const agent = fakeAgent('a', runtime)
    const abort = new AbortController()
    const running = agent.remote.exec(id, {
      argv: ['sleep', '100'],
      signal: abort.signal,
      onOutput: () => abort.abort(),
    })
    expect(await running).toMatchObject({ exitCode: 130, stdout: 'started\n', timedOut: false })
    expect(killed).toBe(true)
    expect(agent.calls.filter((c) => c.startsWith('DELETE /v1/execs/'))).toHaveLength(1)
  })

  it('gives up on a stream that goes silent', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    runtime.onExec = async (_id, req) => {
      req.onOutput?.('stdout', 'then nothing\n')
      return new Promise(() => {})
    }
    const { remote } = fakeAgent('a', runtime, {
      stream: { heartbeatMs: 60_000 },
      client: { idleTimeoutMs: 100 },
    })
    const err = await remote.exec(id, { argv: ['x'] }).catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toMatch(/silent/)
  })

  it('keeps a quiet stream alive with heartbeats', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec())
    runtime.onExec = async () => {
      await new Promise((resolve) => setTimeout(resolve, 400))
      return { ...ok, stdout: 'late\n' }
    }
    const { remote } = fakeAgent('a', runtime, {
      stream: { commitAfterMs: 10, heartbeatMs: 50 },
      client: { idleTimeoutMs: 150 },
    })
    expect((await remote.exec(id, { argv: ['x'] })).stdout).toBe('late\n')
  })

  it('builds with progress lines and lists by label', async () => {
    const runtime = new MemoryRuntime()
    const { remote } = fakeAgent('a', runtime)
    const progress: string[] = []
    await remote.buildImage('t:1', 'FROM x', {
      files: [{ path: 'a.txt', content: 'hi' }],
      onProgress: (l) => progress.push(l),
    })
    expect(progress).toEqual(['building t:1'])
    expect(await remote.imageId('t:1')).toBe('sha256:t:1')
    expect(await remote.hasImage('t:2')).toBe(false)
    const id = await remote.run({ ...spec(), labels: { team: 'a=b', other: 'x' } })
    expect((await remote.list({ team: 'a=b' })).map((c) => c.id)).toEqual([id])
    expect((await remote.list({ other: undefined })).map((c) => c.id)).toEqual([id])
    expect(await remote.list({ team: 'c' })).toEqual([])
  })
})
