import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
} from '../src/core/errors.ts'
import type { ContainerSpec, ExecRequest, ExecResult, FileChange } from '../src/core/runtime.ts'
import { CHECKPOINT_LABEL } from '../src/core/runtime.ts'
import { DockerRuntime } from '../src/docker/docker-runtime.ts'
import { DAEMON_MOUNT } from '../src/docker/daemon/daemon-router.ts'
import { WorkerDaemons } from '../src/docker/daemon/worker-daemons.ts'
import { api, startHarness } from './support/harness.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const run = promisify(execFile)
const RUN = randomBytes(4).toString('hex')
const TEST_LABEL = 'workers-spawner.test.daemon'
const docker = new Dockerode()

const spec = (): ContainerSpec => ({
  name: `ws-dmn-${RUN}-${randomBytes(3).toString('hex')}`,
  image: WORKER_IMAGE,
  env: { GREETING: 'hello' },
  labels: { [TEST_LABEL]: RUN },
  user: '1000:1000',
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

let dir: string
let daemons: WorkerDaemons
/** The runtime with daemons, and one without: the Engine path for the same containers. */
let on: DockerRuntime
let off: DockerRuntime
let id: string
let name: string

/** What an operation did to the counters of `on`. */
const counted = async <T>(fn: () => Promise<T>) => {
  const before = on.daemonStats()
  const value = await fn()
  const after = on.daemonStats()
  return { value, daemon: after.daemon - before.daemon, fallback: after.fallback - before.fallback }
}

/** The container's daemon end, listening. */
const daemonOf = async (container: string) => (await daemons.get(container))!

/** Kills, as the worker user, every process whose name is `comm` (and, with `parents`, theirs). */
const killAll = (container: string, comm: string, parents = false) =>
  run('docker', [
    'exec',
    '-u',
    '1000:1000',
    container,
    'sh',
    '-c',
    `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = ${comm} ] || continue; ` +
      (parents ? 'while read -r k v; do [ "$k" = PPid: ] && kill -9 $v; done < $p/status; ' : '') +
      'kill -9 ${p#/proc/}; done; true',
  ])

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ws-dmn-'))
  daemons = await WorkerDaemons.open({ dir })
  on = new DockerRuntime({ docker, daemons })
  off = new DockerRuntime({ docker })
  const s = spec()
  name = s.name
  id = await on.run(s)
})

afterAll(async () => {
  const mine = await docker.listContainers({
    all: true,
    filters: { label: [`${TEST_LABEL}=${RUN}`] },
  })
  await Promise.all(mine.map((c) => on.remove(c.Id)))
  await daemons?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('commands through the daemon', () => {
  it('takes the daemon path right after run', async () => {
    const r = await counted(() => on.exec(id, { argv: ['true'] }))
    expect(r.value.exitCode).toBe(0)
    expect(r).toMatchObject({ daemon: 1, fallback: 0 })
  })

  const keep = (r: ExecResult) => ({
    exitCode: r.exitCode,
    stdout: r.stdout,
    stderr: r.stderr,
    timedOut: r.timedOut,
    truncated: r.truncated ?? false,
  })

  const cases: [string, ExecRequest][] = [
    ['exit code and both streams', { argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }],
    [
      'env and workdir',
      { argv: ['sh', '-c', 'echo "$FOO $GREETING"; pwd'], env: { FOO: 'bar' }, workdir: '/tmp' },
    ],
    ['stdin', { argv: ['sh', '-c', 'cat; echo done'], stdin: 'line 1\nline 2\n' }],
    ['no stdin is empty', { argv: ['sh', '-c', 'cat; echo end'] }],
    [
      'truncation',
      { argv: ['sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" a'], maxOutputBytes: 1000 },
    ],
    ['a signal', { argv: ['sh', '-c', 'kill -TERM $$'] }],
  ]
  it.each(cases)('gives what the Engine path gives: %s', async (_, req) => {
    const viaDaemon = await counted(() => on.exec(id, req))
    expect(viaDaemon.daemon).toBe(1)
    const viaEngine = await off.exec(id, req)
    expect(keep(viaDaemon.value)).toEqual(keep(viaEngine))
  })

  it('streams what the result keeps, with one truncation notice, on both paths', async () => {
    const req = (seen: string[]): ExecRequest => ({
      argv: ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" b; echo x >&2'],
      maxOutputBytes: 100,
      onOutput: (s, c) => seen.push(`${s}:${c}`),
    })
    const a: string[] = []
    const b: string[] = []
    await on.exec(id, req(a))
    await off.exec(id, req(b))
    // Each stream in order; how the two interleave is the scheduler's, and so is where in
    // stderr the notice of stdout's cut comes: stderr is compared as its set of lines.
    const byStream = (seen: string[]) =>
      ['stdout', 'stderr'].map((s) => {
        const text = seen
          .filter((c) => c.startsWith(`${s}:`))
          .map((c) => c.slice(s.length + 1))
          .join('')
        return s === 'stderr' ? text.split('\n').sort() : text
      })
    expect(byStream(a)).toEqual(byStream(b))
  })

  it('times out as the Engine path does, killing a child in a session of its own', async () => {
    for (const [rt, marker] of [
      [on, 3101],
      [off, 3102],
    ] as const) {
      const r = await rt.exec(id, {
        argv: ['sh', '-c', `setsid sleep ${marker} & echo started; sleep ${marker}`],
        timeoutMs: 1000,
      })
      expect(r).toMatchObject({ exitCode: 124, timedOut: true, stdout: 'started\n' })
      const ps = await off.exec(id, {
        argv: ['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done'],
      })
      expect(ps.stdout).not.toContain(`sleep ${marker}`)
    }
  })

  it('reports 130 when aborted', async () => {
    const ac = new AbortController()
    const r = on.exec(id, {
      argv: ['sh', '-c', 'echo go; sleep 60'],
      signal: ac.signal,
      onOutput: () => ac.abort(),
    })
    expect(await r).toMatchObject({ exitCode: 130, timedOut: false })
  })

  it.each([
    ['a missing program', ['no-such-program-xyz'], 127],
    ['a file that is no program', ['/etc/hostname'], 126],
  ])('turns %s into the Engine path’s start failure', async (_, argv, code) => {
    const viaDaemon = await counted(() => on.exec(id, { argv }))
    const viaEngine = await off.exec(id, { argv })
    expect(viaDaemon.daemon).toBe(1)
    for (const r of [viaDaemon.value, viaEngine]) {
      expect(r).toMatchObject({ exitCode: code, stdout: '', timedOut: false })
      expect(r.stderr).toMatch(/\S\n$/)
    }
  })
})

describe('files through the daemon', () => {
  const bytes = new Uint8Array(1024).map((_, i) => (i * 7) % 256)

  it('puts and gets binary files, either path reading what the other wrote', async () => {
    const put = await counted(() => on.putFile(id, '/workspace/d/a.bin', bytes, { mode: 0o600 }))
    const got = await counted(() => on.getFile(id, '/workspace/d/a.bin'))
    expect(put.daemon + got.daemon).toBe(2)
    expect(Buffer.from(got.value).equals(Buffer.from(bytes))).toBe(true)
    expect(
      Buffer.from(await off.getFile(id, '/workspace/d/a.bin')).equals(Buffer.from(bytes)),
    ).toBe(true)
    const mode = await off.exec(id, { argv: ['stat', '-c', '%a %u', '/workspace/d/a.bin'] })
    expect(mode.stdout).toBe('600 1000\n')
    await off.putFile(id, '/workspace/d/b.bin', bytes)
    expect(Buffer.from(await on.getFile(id, '/workspace/d/b.bin')).equals(Buffer.from(bytes))).toBe(
      true,
    )
  })

  it('moves 10 MiB both ways', async () => {
    const big = new Uint8Array(10 * 1024 * 1024).map((_, i) => i % 251)
    await on.putFile(id, '/workspace/big.bin', big)
    const back = await on.getFile(id, '/workspace/big.bin')
    expect(Buffer.from(back).equals(Buffer.from(big))).toBe(true)
  })

  it('fails as the Engine path does', async () => {
    await off.exec(id, {
      argv: [
        'sh',
        '-c',
        'mkdir -p /workspace/r && ln -sf /etc/passwd /workspace/r/esc && ln -sfn /etc /workspace/r/etc',
      ],
    })
    const roots = ['/workspace']
    const cases: [string, () => (rt: DockerRuntime) => Promise<unknown>, unknown, string?][] = [
      ['missing', () => (rt) => rt.getFile(id, '/workspace/none.txt'), NotFoundError],
      ['a directory', () => (rt) => rt.getFile(id, '/workspace'), BadRequestError],
      [
        'too large',
        () => (rt) => rt.getFile(id, '/workspace/d/a.bin', { maxBytes: 10 }),
        PayloadTooLargeError,
      ],
      [
        'a link out of the roots',
        () => (rt) => rt.getFile(id, '/workspace/r/esc', { roots }),
        BadRequestError,
        'path_not_allowed',
      ],
      [
        'a write through a link out',
        () => (rt) => rt.putFile(id, '/workspace/r/etc/x', bytes, { roots }),
        BadRequestError,
        'path_not_allowed',
      ],
      ['a root-owned file', () => (rt) => rt.putFile(id, '/etc/x', bytes), BadRequestError],
    ]
    for (const [what, make, cls, code] of cases) {
      const viaDaemon = await counted(() =>
        make()(on).then(
          () => undefined,
          (e: unknown) => e,
        ),
      )
      const viaEngine = await make()(off).then(
        () => undefined,
        (e: unknown) => e,
      )
      // What the kernel denies the daemon (a root-owned directory) the Engine redoes.
      expect(viaDaemon.daemon + viaDaemon.fallback, what).toBe(1)
      if (!what.includes('root')) expect(viaDaemon.daemon, what).toBe(1)
      expect(viaDaemon.value, what).toBeInstanceOf(cls)
      expect(viaEngine, what).toBeInstanceOf(cls)
      expect((viaDaemon.value as { code: string }).code, what).toBe(
        (viaEngine as { code: string }).code,
      )
      if (code) expect((viaDaemon.value as { code: string }).code).toBe(code)
      if (code) {
        expect((viaDaemon.value as { details: unknown }).details).toEqual([
          { path: 'path', message: expect.any(String) },
        ])
      }
    }
  })

  it('leaves root’s files (uid 0) to the archive API', async () => {
    const r = await counted(() => on.getFile(id, '/etc/hostname', { uid: 0 }))
    expect(r).toMatchObject({ daemon: 0, fallback: 0 })
  })
})

describe('terminals and watches', () => {
  it('opens a terminal through the daemon', async () => {
    let out = ''
    let seen!: () => void
    const echoed = new Promise<void>((r) => (seen = r))
    const opened = await counted(() =>
      on.openTerminal(id, {
        cols: 80,
        rows: 24,
        onOutput: (c) => {
          out += Buffer.from(c).toString()
          if (out.includes('sum-3 24x100')) seen()
        },
      }),
    )
    expect(opened.daemon).toBe(1)
    const term = opened.value
    await term.resize(100, 24)
    term.write('echo sum-$((1+2)) $(stty size | tr " " x)\n')
    await echoed
    await term.kill()
    expect(await term.exited).toBe(137)
  })

  it('watches a directory', async () => {
    await on.exec(id, { argv: ['mkdir', '-p', '/workspace/watched'] })
    const ac = new AbortController()
    const changes: FileChange[] = []
    let reported = false
    let ended = false
    const before = on.daemonStats().daemon
    const watching = on
      .watch(id, {
        path: '/workspace/watched',
        roots: ['/workspace'],
        signal: ac.signal,
        onChange: (c) => {
          changes.push(c)
          if (c.path === '/workspace/watched/new.txt') reported = true
        },
      })
      .finally(() => (ended = true))
    // Written until the watch reports it (it may start after the first write), or ends.
    for (let n = 0; !reported && !ended; n++) {
      await on.putFile(id, '/workspace/watched/new.txt', new TextEncoder().encode(String(n)))
      await on.exec(id, { argv: ['true'] })
    }
    ac.abort()
    await watching
    expect(on.daemonStats().daemon).toBeGreaterThan(before)
    expect(changes.some((c) => c.type === 'created' || c.type === 'changed')).toBe(true)
  })

  it('refuses a watch outside the roots', async () => {
    const ac = new AbortController()
    await expect(
      on.watch(id, {
        path: '/etc',
        roots: ['/workspace'],
        signal: ac.signal,
        onChange: () => undefined,
      }),
    ).rejects.toMatchObject({ code: 'path_not_allowed' })
  })

  it('watches by polling through the Engine without a daemon', async () => {
    await on.exec(id, { argv: ['mkdir', '-p', '/workspace/polled'] })
    const ac = new AbortController()
    let reported = false
    const watching = off.watch(id, {
      path: '/workspace/polled',
      signal: ac.signal,
      onChange: (c) => {
        if (c.type === 'created' && c.path?.startsWith('/workspace/polled/probe-')) {
          reported = true
          ac.abort()
        }
      },
    })
    // Probes written (the Engine's way, so each takes an exec) until one is reported: the
    // watch may start after the first.
    for (let n = 0; !reported; n++) {
      await off.putFile(id, `/workspace/polled/probe-${n}`, new TextEncoder().encode(String(n)))
    }
    await watching
    expect(reported).toBe(true)
  })
})

describe('when the daemon does not answer', () => {
  it('falls back while the daemon is away and restarts it', async () => {
    const s = spec()
    const other = await on.run(s)
    await on.exec(other, { argv: ['true'] })
    const daemon = await daemonOf(s.name)
    // The agent kills the daemon and the entrypoint's loop that would start it again.
    await killAll(other, 'spawnerd', true)
    await daemon.whenDisconnected()
    const r = await counted(() => on.exec(other, { argv: ['sh', '-c', 'echo still'] }))
    expect(r).toMatchObject({ daemon: 0, fallback: 1 })
    expect(r.value).toMatchObject({ exitCode: 0, stdout: 'still\n' })
    await daemon.whenConnected()
    const back = await counted(() => on.exec(other, { argv: ['true'] }))
    expect(back).toMatchObject({ daemon: 1, fallback: 0 })
    await on.remove(other)
  })

  it('reaches, after a restart, the daemons of containers that outlived the old process', async () => {
    const base = mkdtempSync(join(tmpdir(), 'ws-dmn-'))
    const first = await WorkerDaemons.open({ dir: base })
    const before = new DockerRuntime({ docker, daemons: first })
    const s = spec()
    const other = await before.run(s)
    expect((await before.exec(other, { argv: ['true'] })).exitCode).toBe(0)
    expect(before.daemonStats().daemon).toBe(1)
    await first.close()
    // A new process on the same directory: same key, its listener made at the first use.
    const second = await WorkerDaemons.open({ dir: base })
    const after = new DockerRuntime({ docker, daemons: second })
    try {
      const r = await after.exec(other, { argv: ['sh', '-c', 'echo back'] })
      expect(r.stdout).toBe('back\n')
      expect(after.daemonStats()).toEqual({ daemon: 1, fallback: 0 })
      await after.remove(other)
      expect(() => statSync(second.dirOf(s.name))).toThrow()
    } finally {
      await second.close()
      rmSync(base, { recursive: true, force: true })
    }
  })

  it('never serves a container whose daemon says a wrong secret', async () => {
    const s = spec()
    const daemon = (await daemons.listen(s.name))!
    const refused = daemon.whenRefused()
    const created = await docker.createContainer({
      name: s.name,
      Image: WORKER_IMAGE,
      User: '1000:1000',
      Env: ['SPAWNERD_SECRET=0123456789abcdef'],
      Labels: s.labels,
      HostConfig: {
        NetworkMode: 'none',
        Mounts: [
          { Type: 'bind', Source: daemons.dirOf(s.name), Target: DAEMON_MOUNT, ReadOnly: true },
        ],
      },
    })
    await created.start()
    await refused
    const r = await counted(() => on.exec(created.id, { argv: ['sh', '-c', 'echo engine'] }))
    expect(r).toMatchObject({ daemon: 0, fallback: 1 })
    expect(r.value.stdout).toBe('engine\n')
    expect(daemon.live).toBe(0)
  })

  it('gives the Engine’s ConflictError for a container paused behind its back', async () => {
    await on.exec(id, { argv: ['true'] })
    await docker.getContainer(id).pause()
    try {
      const frozen = await counted(() => on.exec(id, { argv: ['true'] }).catch((e: unknown) => e))
      expect(frozen.value).toBeInstanceOf(ConflictError)
      const again = await counted(() => on.exec(id, { argv: ['true'] }).catch((e: unknown) => e))
      expect(again).toMatchObject({ daemon: 0, fallback: 1, value: expect.any(ConflictError) })
    } finally {
      await on.unpause(id)
    }
    expect((await counted(() => on.exec(id, { argv: ['true'] }))).daemon).toBe(1)
  })

  it('uses the Engine for a paused container until it is unpaused', async () => {
    await on.pause(id)
    const paused = await counted(() => on.exec(id, { argv: ['true'] }).catch((e: unknown) => e))
    expect(paused.value).toBeInstanceOf(ConflictError)
    expect(paused.fallback).toBe(1)
    await on.unpause(id)
    expect((await counted(() => on.exec(id, { argv: ['true'] }))).daemon).toBe(1)
  })
})

describe('what the worker and the world see', () => {
  it('mounts the daemon directory read-only', async () => {
    const r = await on.exec(id, {
      argv: ['sh', '-c', `touch ${DAEMON_MOUNT}/x || rm -f ${DAEMON_MOUNT}/d.sock || echo refused`],
    })
    expect(r.stdout).toBe('refused\n')
    expect(r.stderr).toMatch(/Read-only file system/)
    const ls = await on.exec(id, { argv: ['ls', '-A', DAEMON_MOUNT] })
    expect(ls.stdout).toBe('d.sock\n')
  })

  it('keeps the secret out of the daemon’s commands, labels and checkpoints', async () => {
    const secret = daemons.secretOf(name)
    const env = await on.exec(id, { argv: ['env'] })
    expect(env.stdout).not.toContain(secret)
    const info = await docker.getContainer(id).inspect()
    expect(JSON.stringify(info.Config.Labels)).not.toContain(secret)
    const tag = `workers-spawner-checkpoint:w-${randomBytes(8).toString('hex')}-c-${randomBytes(8).toString('hex')}`
    await on.commit(id, tag, { labels: { [CHECKPOINT_LABEL]: 'c1' }, env: {} })
    try {
      const image = await docker.getImage(tag).inspect()
      expect(JSON.stringify(image.Config)).not.toContain(secret)
    } finally {
      await on.removeImage(tag)
    }
  })

  it('keeps the secret out of the service’s answers', async () => {
    const h = await startHarness()
    try {
      const http = api(h.app)
      const res = await http.post('/v1/workers', { agent: 'shell', labels: h.runLabel })
      expect(res.status, res.text).toBe(201)
      const [container] = await h.containers()
      const cname = container!.Names[0]!.replace(/^\//, '')
      const info = await docker.getContainer(container!.Id).inspect()
      const secret = (info.Config.Env ?? [])
        .find((e) => e.startsWith('SPAWNERD_SECRET='))
        ?.split('=')[1]
      expect(cname).toBeTruthy()
      expect(secret).toMatch(/^[0-9a-f]{64}$/)
      const answers = [
        res.text,
        (await http.get(`/v1/workers/${res.json.workerId}`)).text,
        (await http.get('/v1/workers')).text,
        (await http.post(`/v1/workers/${res.json.workerId}/commands`, { argv: ['env'] })).text,
      ]
      for (const text of answers) expect(text).not.toContain(secret!)
    } finally {
      await h.cleanup()
    }
  })
})
