import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  SpawnerError,
  UnavailableError,
} from '../src/core/errors.ts'
import type { ContainerRuntime, ContainerSpec } from '../src/core/runtime.ts'
import { describeDockerTarget } from '../src/docker/docker-connection.ts'
import { DockerRuntime } from '../src/docker/docker-runtime.ts'
import {
  EXEC_DIR,
  EXEC_ENV,
  execCommand,
  killCommand,
  newExecKey,
  stdinPath,
} from '../src/docker/exec-wrapper.ts'
import { truncationNotice } from '../src/docker/exec-output.ts'
import { startTestRuntime, type TestRuntime } from './support/harness.ts'

/** The image every container here runs; point WORKER_IMAGE at any image with user `worker`. */
const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const TEST_LABEL = 'workers-spawner.test'
const run = promisify(execFile)
const RUN = randomBytes(4).toString('hex')

// DockerRuntime in-process, or through a host agent over HTTP with TEST_RUNTIME=remote.
let testRuntime: TestRuntime
let runtime: ContainerRuntime
const docker = new Dockerode()
const images: string[] = []

const spec = (): ContainerSpec => ({
  name: `ws-test-${RUN}-${randomBytes(3).toString('hex')}`,
  image: IMAGE,
  env: { GREETING: 'hello' },
  labels: { [TEST_LABEL]: '1', 'workers-spawner.test.run': RUN },
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 512 * 1024 * 1024,
  nanoCpus: 1e9,
  pidsLimit: 256,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})

/** Runs a shell line in the container and returns its stdout (fails the test on non-zero). */
const sh = async (id: string, line: string): Promise<string> => {
  const result = await runtime.exec(id, { argv: ['sh', '-c', line] })
  expect(result.exitCode, result.stderr).toBe(0)
  return result.stdout
}

/** Files left in the exec dir, which only root may list. */
const execLeftovers = async (id: string): Promise<string> => {
  const line = `ls -A ${EXEC_DIR} 2>/dev/null; true`
  return (await run('docker', ['exec', '-u', '0', id, 'sh', '-c', line])).stdout
}

/** Command lines of live (non-zombie) processes; zombies have an empty cmdline. */
const liveCommands = async (id: string): Promise<string[]> => {
  const out = await sh(id, `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done`)
  return out.split('\n').filter(Boolean)
}

let id = ''

beforeAll(async () => {
  testRuntime = await startTestRuntime(docker)
  runtime = testRuntime.runtime
  try {
    await runtime.ping()
  } catch (err) {
    throw new Error(
      `Docker Engine not reachable at ${describeDockerTarget(process.env)}: start dockerd ` +
        `(see .ci/run). ${(err as Error).message}`,
    )
  }
  if (!(await runtime.hasImage(IMAGE))) throw new Error(`image ${IMAGE} missing: set WORKER_IMAGE`)
  id = await runtime.run(spec())
})

afterAll(async () => {
  const mine = await runtime.list({ [TEST_LABEL]: '1', 'workers-spawner.test.run': RUN })
  await Promise.all(mine.map((c) => runtime.remove(c.id)))
  for (const tag of images)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {})
  await testRuntime?.close()
})

describe('containers', () => {
  it('runs, inspects and lists by label', async () => {
    const info = await runtime.inspect(id)
    expect(info).toMatchObject({ id, state: 'running', image: IMAGE })
    expect(info?.labels[TEST_LABEL]).toBe('1')
    expect(info?.name).toMatch(/^ws-test-/)
    expect(Date.parse(info?.createdAt ?? '')).toBeGreaterThan(Date.now() - 600_000)
    const byValue = await runtime.list({ 'workers-spawner.test.run': RUN })
    expect(byValue.map((c) => c.id)).toContain(id)
    expect(byValue.find((c) => c.id === id)?.state).toBe('running')
    const byKey = await runtime.list({ [TEST_LABEL]: undefined })
    expect(byKey.map((c) => c.id)).toContain(id)
    expect(await runtime.list({ 'workers-spawner.test.run': 'no-such-run' })).toEqual([])
    expect(await runtime.inspect('ws-no-such-container')).toBeUndefined()
  })

  it('offers at least runc', async () => {
    expect(await runtime.runtimes()).toContain('runc')
  })

  it('removes idempotently', async () => {
    const other = await runtime.run(spec())
    await runtime.remove(other)
    await runtime.remove(other)
    expect(await runtime.inspect(other)).toBeUndefined()
    await expect(runtime.exec(other, { argv: ['true'] })).rejects.toThrow(NotFoundError)
  })

  it('refuses a second container with the same name', async () => {
    const s = spec()
    await runtime.run(s)
    await expect(runtime.run(s)).rejects.toThrow(ConflictError)
  })

  it('says where it looked when the engine is unreachable', async () => {
    const nowhere = new DockerRuntime({
      docker: new Dockerode({ socketPath: '/tmp/ws-no-docker.sock' }),
    })
    const err = await nowhere.ping().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain('/tmp/ws-no-docker.sock')
  })
})

describe('exec', () => {
  it('separates stdout and stderr, and passes exit code, env and workdir', async () => {
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', 'echo out; echo err >&2; echo "$FOO $GREETING"; pwd; id -u; exit 3'],
      env: { FOO: 'bar' },
      workdir: '/tmp',
    })
    expect(result).toMatchObject({
      exitCode: 3,
      stdout: 'out\nbar hello\n/tmp\n1000\n',
      stderr: 'err\n',
      timedOut: false,
    })
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('runs in the container workdir by default and reports a missing command', async () => {
    expect((await runtime.exec(id, { argv: ['pwd'] })).stdout).toBe('/workspace\n')
    const seen: string[] = []
    const missing = await runtime.exec(id, {
      argv: ['ws-no-such-binary'],
      onOutput: (stream) => seen.push(stream),
    })
    expect(missing).toMatchObject({ exitCode: 127, stdout: '' })
    expect(missing.stderr).toContain('ws-no-such-binary')
    expect(seen).toEqual(['stderr'])
    expect((await runtime.exec(id, { argv: ['/etc/passwd'] })).exitCode).toBe(126)
    const viaStdin = await runtime.exec(id, { argv: ['ws-no-such-binary'], stdin: 'x' })
    expect(viaStdin).toMatchObject({ exitCode: 127, stdout: '' })
  })

  it('tags the command, overriding a caller value', async () => {
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', `echo $${EXEC_ENV}`],
      env: { [EXEC_ENV]: 'mine' },
    })
    expect(result.stdout).toMatch(/^[0-9a-f]{16}\n$/)
  })

  it('passes argv through without shell interpretation', async () => {
    const result = await runtime.exec(id, { argv: ['printf', '%s|', 'a b', '$HOME', "'q'", '*'] })
    expect(result.stdout).toBe("a b|$HOME|'q'|*|")
  })

  it('does not start a command with stdin whose kill arrived first', async () => {
    const key = newExecKey()
    // An exec with stdin makes the exec dir in an image that lacks it.
    await runtime.exec(id, { argv: ['true'], stdin: '' })
    await runtime.putFile(id, stdinPath(key), new TextEncoder().encode('in'))
    await runtime.exec(id, { argv: killCommand(key) })
    const late = await runtime.exec(id, { argv: execCommand(key, ['echo', 'ran'], true) })
    expect(late).toMatchObject({ exitCode: 137, stdout: '' })
    expect(await execLeftovers(id)).toBe('')
  })

  it('calls onOutput in arrival order', async () => {
    const seen: string[] = []
    // Each line waits until the one before it has arrived here: the order is the test's, not
    // the scheduler's, however loaded the machine.
    const tag = Math.random().toString(36).slice(2)
    const wait = (n: number) => `while [ ! -e /tmp/go-${tag}-${n} ]; do sleep 0.02; done`
    const go = (n: number) => void runtime.exec(id, { argv: ['touch', `/tmp/go-${tag}-${n}`] })
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', `echo a; ${wait(1)}; echo b >&2; ${wait(2)}; echo c`],
      onOutput: (stream, chunk) => {
        seen.push(`${stream}:${chunk}`)
        go(seen.length)
      },
      timeoutMs: 60_000,
    })
    expect(result.exitCode).toBe(0)
    expect(seen).toEqual(['stdout:a\n', 'stderr:b\n', 'stdout:c\n'])
  })

  it('decodes a UTF-8 character split across frames', async () => {
    const chunks: string[] = []
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', "printf '\\342\\202'; sleep 0.2; printf '\\254 ok\\n'"],
      onOutput: (_stream, chunk) => chunks.push(chunk),
    })
    expect(result.stdout).toBe('€ ok\n')
    expect(chunks.join('')).toBe('€ ok\n')
    expect(chunks.some((c) => c.includes('\uFFFD'))).toBe(false)
  })

  it('kills the whole process tree on timeout', async () => {
    const result = await runtime.exec(id, {
      // An orphan, a background job, and a child in a session of its own.
      argv: ['sh', '-c', 'echo started; (sleep 1001 &); setsid sleep 1002 & sleep 1000; wait'],
      timeoutMs: 1000,
    })
    expect(result).toMatchObject({ timedOut: true, exitCode: 124, stdout: 'started\n' })
    const left = await liveCommands(id)
    expect(left.filter((cmd) => /sleep 100[012]/.test(cmd))).toEqual([])
    expect(await execLeftovers(id)).toBe('')
  })

  it('kills escapes that scrubbed their environment, and spares other execs', async () => {
    const bystander = runtime.exec(id, { argv: ['sh', '-c', 'sleep 2; echo alive'] })
    const result = await runtime.exec(id, {
      // Untagged: one stays in the session (in a group of its own, output closed), one leaves
      // the session but keeps the output open.
      argv: [
        'sh',
        '-c',
        'env -i bash -c "set -m; sleep 1004 >/dev/null 2>&1 & wait" & ' +
          'env -i setsid sleep 1005 & sleep 1006',
      ],
      timeoutMs: 500,
    })
    expect(result).toMatchObject({ timedOut: true, exitCode: 124 })
    const left = await liveCommands(id)
    expect(left.filter((cmd) => /sleep 100[456]/.test(cmd))).toEqual([])
    expect(await bystander).toMatchObject({ exitCode: 0, stdout: 'alive\n' })
  })

  it('kills a command whose timeout came before it started', async () => {
    const started = Date.now()
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', 'sleep 1007'],
      timeoutMs: 0,
    })
    expect(result).toMatchObject({ timedOut: true, exitCode: 124 })
    expect(Date.now() - started).toBeLessThan(3000)
    expect((await liveCommands(id)).filter((cmd) => cmd.includes('sleep 1007'))).toEqual([])
  })

  it('repeats the kill until the output ends', async () => {
    const started = Date.now()
    // Untagged at first, then tagged: what a command not yet started at the first kill looks like.
    const late = `sleep 0.3; exec env ${EXEC_ENV}=$K sleep 1008`
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', `K=$${EXEC_ENV}; exec env -u ${EXEC_ENV} sh -c "${late}"`],
      timeoutMs: 100,
    })
    expect(result).toMatchObject({ timedOut: true, exitCode: 124 })
    expect(Date.now() - started).toBeLessThan(3000)
    expect((await liveCommands(id)).filter((cmd) => cmd.includes('sleep 1008'))).toEqual([])
  })

  it('caps the output per stream, kept and streamed alike, and says where it cut', async () => {
    let streamed = 0
    let streamedErr = ''
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', 'head -c 3000000 /dev/zero; echo done >&2'],
      maxOutputBytes: 1_000_000,
      onOutput: (stream, chunk) => {
        if (stream === 'stdout') streamed += chunk.length
        else streamedErr += chunk
      },
    })
    expect(result).toMatchObject({ exitCode: 0, stderr: 'done\n', truncated: true })
    expect(result.stdout.length).toBe(1_000_000)
    expect(streamed).toBe(1_000_000)
    expect(streamedErr).toBe(`${truncationNotice('stdout', 1_000_000)}done\n`)
    expect((await runtime.exec(id, { argv: ['true'] })).truncated).toBeUndefined()
  })

  it('kills the command when the signal aborts', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const result = await runtime.exec(id, {
      argv: ['sh', '-c', 'sleep 1003'],
      signal: controller.signal,
    })
    expect(result).toMatchObject({ exitCode: 130, timedOut: false })
    expect((await liveCommands(id)).filter((cmd) => cmd.includes('sleep 1003'))).toEqual([])
  })

  it('feeds stdin and cleans up after itself', async () => {
    const text = 'héllo\nwörld\n'.repeat(1000)
    const result = await runtime.exec(id, { argv: ['cat'], stdin: text })
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toBe(text)
    const empty = await runtime.exec(id, { argv: ['wc', '-c'], stdin: '' })
    expect(empty.stdout.trim()).toBe('0')
    expect(await execLeftovers(id)).toBe('')
  })
})

describe('files', () => {
  it('round-trips all 256 byte values and a 1 MiB random buffer', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    await runtime.putFile(id, '/workspace/all.bin', all)
    expect(Buffer.from(await runtime.getFile(id, '/workspace/all.bin'))).toEqual(Buffer.from(all))
    expect(await sh(id, 'stat -c "%a %u %g %s" /workspace/all.bin')).toBe('644 1000 1000 256\n')

    const big = new Uint8Array(randomBytes(1024 * 1024))
    await runtime.putFile(id, '/workspace/big.bin', big, { mode: 0o600 })
    const back = await runtime.getFile(id, '/workspace/big.bin')
    expect(Buffer.compare(back, big)).toBe(0)
    expect(await sh(id, 'stat -c %a /workspace/big.bin')).toBe('600\n')
  })

  it('creates a missing nested directory as the owner', async () => {
    await runtime.putFile(id, '/workspace/a/b/c/note.txt', new TextEncoder().encode('nested'))
    const back = await runtime.getFile(id, '/workspace/a/b/c/note.txt')
    expect(new TextDecoder().decode(back)).toBe('nested')
    expect(await sh(id, 'stat -c "%U" /workspace/a /workspace/a/b/c')).toBe('worker\nworker\n')
  })

  it('leaves /tmp at mode 1777', async () => {
    await runtime.putFile(id, '/tmp/in-tmp.txt', new TextEncoder().encode('x'))
    expect(await sh(id, 'stat -c "%a %U" /tmp')).toBe('1777 root\n')
  })

  it('maps directory, missing, too large and relative paths to the right errors', async () => {
    await expect(runtime.getFile(id, '/workspace')).rejects.toThrow(BadRequestError)
    await expect(runtime.getFile(id, '/workspace/a')).rejects.toThrow('is a directory')
    await expect(runtime.getFile(id, '/workspace/nope.txt')).rejects.toThrow(
      new NotFoundError('no such file: /workspace/nope.txt'),
    )
    await runtime.putFile(id, '/workspace/2k.bin', new Uint8Array(2048))
    await expect(runtime.getFile(id, '/workspace/2k.bin', { maxBytes: 1000 })).rejects.toThrow(
      PayloadTooLargeError,
    )
    expect((await runtime.getFile(id, '/workspace/2k.bin', { maxBytes: 2048 })).length).toBe(2048)
    await expect(runtime.putFile(id, 'relative.txt', new Uint8Array(1))).rejects.toThrow(
      BadRequestError,
    )
  })

  it('follows a symlink', async () => {
    await sh(id, 'ln -sf /workspace/all.bin /workspace/link.bin')
    expect((await runtime.getFile(id, '/workspace/link.bin')).length).toBe(256)
  })
})

describe('logs', () => {
  it('reads timestamped lines per stream, with tail', async () => {
    // stdout and stderr are copied by separate readers: a pause keeps their order known.
    await sh(
      id,
      'echo one > /proc/1/fd/1; echo two > /proc/1/fd/1; sleep 0.3; echo oops > /proc/1/fd/2',
    )
    let all = (await runtime.logs(id)).lines
    // The engine copies container output asynchronously: give the last line a moment.
    for (let i = 0; i < 20 && !all.some((l) => l.text === 'oops'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      all = (await runtime.logs(id)).lines
    }
    expect(all.map((l) => `${l.stream}:${l.text}`)).toEqual(
      expect.arrayContaining(['stdout:one', 'stdout:two', 'stderr:oops']),
    )
    const { lines: tail, truncated } = await runtime.logs(id, { tail: 2 })
    expect(truncated).toBeUndefined()
    expect(tail.map((l) => `${l.stream}:${l.text}`)).toEqual(['stdout:two', 'stderr:oops'])
    expect(Date.parse(tail[0]?.at ?? '')).toBeGreaterThan(Date.now() - 600_000)
  })

  it('follows new lines until aborted', async () => {
    const controller = new AbortController()
    const seen: string[] = []
    const following = runtime.followLogs(
      id,
      { tail: 0 },
      (line) => {
        seen.push(line.text)
        if (line.text === 'second') controller.abort()
      },
      controller.signal,
    )
    // The pause lets the follow request attach before the first line is written.
    await sh(id, 'sleep 0.5; echo first > /proc/1/fd/1; sleep 0.2; echo second > /proc/1/fd/1')
    await following
    expect(seen).toEqual(['first', 'second'])
  })
})

describe('pause', () => {
  it('pauses and unpauses idempotently; exec on a paused container conflicts', async () => {
    await runtime.pause(id)
    await runtime.pause(id)
    expect((await runtime.inspect(id))?.state).toBe('paused')
    await expect(runtime.exec(id, { argv: ['true'] })).rejects.toThrow(ConflictError)
    await runtime.unpause(id)
    await runtime.unpause(id)
    expect((await runtime.inspect(id))?.state).toBe('running')
    expect((await runtime.exec(id, { argv: ['true'] })).exitCode).toBe(0)
  })
})

describe('images', () => {
  it('builds from an in-memory context with an extra file', async () => {
    const tag = `ws-test/build-ok:${RUN}`
    images.push(tag)
    const progress: string[] = []
    await runtime.buildImage(
      tag,
      `FROM ${IMAGE}\nCOPY hello.txt /opt/ws/hello.txt\nRUN test "$(cat /opt/ws/hello.txt)" = hi\n`,
      {
        files: [{ path: 'hello.txt', content: 'hi' }],
        labels: { 'workers-spawner.test': '1' },
        onProgress: (line) => progress.push(line),
      },
    )
    expect(await runtime.hasImage(tag)).toBe(true)
    expect(progress.some((line) => line.includes('COPY hello.txt'))).toBe(true)
    const info = await docker.getImage(tag).inspect()
    expect(info.Config.Labels?.['workers-spawner.test']).toBe('1')
  })

  it('reports a failed build with its output', async () => {
    const tag = `ws-test/build-bad:${RUN}`
    images.push(tag)
    const err = await runtime
      .buildImage(tag, `FROM ${IMAGE}\nRUN echo about to fail && exit 7\n`)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SpawnerError)
    expect((err as SpawnerError).code).toBe('image_build_failed')
    expect((err as SpawnerError).message).toContain('about to fail')
    expect(await runtime.hasImage(tag)).toBe(false)
    await expect(runtime.buildImage(tag, 'FRM nothing\n')).rejects.toMatchObject({
      code: 'image_build_failed',
      message: expect.stringContaining('unknown instruction'),
    })
  })

  it('says no for an unknown image', async () => {
    expect(await runtime.hasImage('ws-test/no-such-image:never')).toBe(false)
  })
})
