/**
 * The fast path's figures (`BENCH_ONLY=daemon npm run bench`, and in the default run): commands,
 * files, bursts of commands, the terminal's echo and a worker's idle memory, each through the
 * service's HTTP API against the raw `docker` CLI where one compares, measured alternately. Every
 * row names the path it took: the in-worker daemon or `docker exec` (and the archive API), read
 * from the runtime's counter (`daemonStats()`; a runtime without one has only the Engine's path).
 *
 *   BENCH_ONLY=daemon BENCH_COMMANDS=200 npm run bench
 */
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import type { ContainerRuntime } from '../../src/core/runtime.ts'
import type { RunningNode } from '../../src/node/start.ts'
import { fmt, median, percentile } from './stats.ts'

const run = promisify(execFile)
const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const LABEL = 'workers-spawner.bench=1'
const ROUNDS = Number(process.env.BENCH_COMMANDS ?? 40)
const CREATES = Number(process.env.BENCH_CREATES ?? 15)
const FILE_ROUNDS = Number(process.env.BENCH_FILE_ROUNDS ?? ROUNDS)
const BIG_ROUNDS = Number(process.env.BENCH_BIG_ROUNDS ?? 5)
const BURST_ONE = Number(process.env.BENCH_BURST_ONE ?? 100)
const BURST_MANY = Number(process.env.BENCH_BURST_MANY ?? 1000)
const BURST_WORKERS = Number(process.env.BENCH_BURST_WORKERS ?? 50)
const ECHO_ROUNDS = Number(process.env.BENCH_ECHO_ROUNDS ?? ROUNDS)
const KIB = 1024
const BIG = 10 * 1024 * 1024

type StartService = (instance: string, extra?: Record<string, string>) => Promise<RunningNode>

/** Operations by path, as a runtime with the daemon counts them; undefined without a counter. */
type Counts = Record<string, number> | undefined

/** The runtime's counts by path now (see `pathOf`). */
export const countsOf = (runtime: ContainerRuntime): Counts => {
  const stats = (runtime as { daemonStats?: () => Record<string, number> }).daemonStats
  return typeof stats === 'function' ? { ...stats.call(runtime) } : undefined
}

/** The path of a create's writes, after the Engine's create and start (see `pathOf`). */
export const createPath = (path: string) => (path === 'docker exec' ? 'Engine' : `Engine + ${path}`)

/** The path the operations between two counts took. */
export const pathOf = (before: Counts, after: Counts): string => {
  if (!before || !after) return 'docker exec'
  const daemon = (after.daemon ?? 0) - (before.daemon ?? 0)
  const other = Object.keys(after)
    .filter((k) => k !== 'daemon')
    .reduce((n, k) => n + (after[k] ?? 0) - (before[k] ?? 0), 0)
  if (daemon > 0 && other === 0) return 'daemon'
  if (daemon === 0) return 'docker exec'
  return `mixed: daemon ${daemon}, docker exec ${other}`
}

const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim()

/** Runs the docker CLI and counts its stdout (execFile would buffer it, and cap it at 1 MiB). */
const dockerRead = (args: string[]) =>
  new Promise<number>((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let bytes = 0
    let err = ''
    child.stdout.on('data', (d: Buffer) => (bytes += d.length))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.once('error', reject)
    child.once('close', (code) =>
      code === 0 ? resolve(bytes) : reject(new Error(`docker ${args[0]}: ${code} ${err}`)),
    )
  })

const stat = (samples: readonly number[]) =>
  `median ${fmt(median(samples))}  p95 ${fmt(percentile(samples, 95))}`

const mbps = (bytes: number, samples: readonly number[]) =>
  `${(bytes / 1e6 / (median(samples) / 1000)).toFixed(0)} MB/s`

/** One row against a baseline, in the shape the other rows print. */
const compared = (
  name: string,
  path: string,
  ours: readonly number[],
  base: readonly number[] | undefined,
  baseName: string,
  target: string,
) => {
  const lines = [`${name}  [${path}]`, `  ours      ${stat(ours)}  (n=${ours.length})`]
  if (base) {
    lines.push(`  ${baseName.padEnd(9)} ${stat(base)}`)
    lines.push(
      `  ratio     median ${(median(ours) / median(base)).toFixed(2)}×  p95 ${(percentile(ours, 95) / percentile(base, 95)).toFixed(2)}×`,
    )
  }
  lines.push(`  target    ${target}`, '')
  return lines
}

/**
 * Runs the service's worker calls through its HTTP API: commands, files, a burst.
 * Throws with the route and status on any refusal.
 */
const client = (base: string) => {
  const call = async (method: string, path: string, body?: unknown, raw?: Uint8Array) => {
    const res = await fetch(base + path, {
      method,
      headers: raw
        ? { 'content-type': 'application/octet-stream' }
        : body === undefined
          ? {}
          : { 'content-type': 'application/json' },
      // The bytes as they are (a Blob would copy 10 MiB on our side of the clock).
      body:
        (raw as Uint8Array<ArrayBuffer> | undefined) ??
        (body === undefined ? undefined : JSON.stringify(body)),
    })
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return res
  }
  return {
    create: async (config: Record<string, unknown> = {}) =>
      String(
        (
          (await (
            await call('POST', '/v1/workers', {
              agent: 'shell',
              labels: { bench: '1' },
              ...config,
            })
          ).json()) as { workerId: string }
        ).workerId,
      ),
    remove: (id: string) => fetch(`${base}/v1/workers/${id}`, { method: 'DELETE' }),
    command: async (id: string, req: Record<string, unknown>) =>
      (await (await call('POST', `/v1/workers/${id}/commands`, req)).json()) as {
        exitCode: number
        stdout: string
      },
    put: (id: string, path: string, bytes: Uint8Array) =>
      call('PUT', `/v1/workers/${id}/files?path=${encodeURIComponent(path)}`, undefined, bytes),
    get: async (id: string, path: string) =>
      new Uint8Array(
        await (
          await call('GET', `/v1/workers/${id}/files?path=${encodeURIComponent(path)}`)
        ).arrayBuffer(),
      ),
  }
}

type Client = ReturnType<typeof client>

/**
 * Keep-alive connections for a burst of `n`, opened before the clock starts: `n` new
 * connections at once would overflow the listen queue (511 by default), and the burst would
 * time the kernel's SYN retries rather than the commands.
 */
const burstAgent = async (base: string, n: number) => {
  const agent = new Agent({ keepAlive: true, maxSockets: n })
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${base}/healthz`, { agent }, (res) => {
        res.resume()
        res.once('end', () => resolve())
      })
      req.once('error', reject)
      req.end()
    })
  // All n are asked for before any answers: n connections.
  await Promise.all(Array.from({ length: n }, get))
  const post = (path: string, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body)
      const req = request(
        `${base}${path}`,
        { agent, method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = ''
          res.on('data', (d: Buffer) => (text += d.toString()))
          res.once('end', () =>
            res.statusCode === 200
              ? resolve()
              : reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 160)}`)),
          )
        },
      )
      req.once('error', reject)
      req.end(data)
    })
  return { post, close: () => agent.destroy() }
}

/** `n` requests at once: each one's time, and how many failed (and the first failure). */
const burst = async (n: number, one: (i: number) => Promise<unknown>) => {
  const times: number[] = []
  let errors = 0
  let first = ''
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t = performance.now()
      try {
        await one(i)
        times.push(performance.now() - t)
      } catch (err) {
        errors++
        const cause = (err as { cause?: { code?: string; message?: string } }).cause
        const why = cause ? ` (${cause.code ?? cause.message})` : ''
        first ||= err instanceof Error ? `${err.message.slice(0, 160)}${why}` : String(err)
      }
    }),
  )
  return { times, errors, first, wallMs: performance.now() - t0 }
}

/**
 * Round trips of the terminal's echo: a marker typed into the shell, timed until the PTY
 * echoes it back through the WebSocket. The line is wiped (Ctrl-U) between rounds.
 */
const terminalEcho = async (base: string, workerId: string, rounds: number) => {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/workers/${workerId}/terminal`)
  let text = ''
  let waiter: { marker: string; resolve: () => void } | undefined
  ws.on('message', (data: Buffer, binary: boolean) => {
    if (!binary) return
    text += data.toString()
    if (waiter && text.includes(waiter.marker)) {
      const w = waiter
      waiter = undefined
      w.resolve()
    }
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`terminal refused: ${res.statusCode}`)),
    )
  })
  const type = (data: string) => ws.send(JSON.stringify({ type: 'input', data }))
  const echoed = (marker: string) =>
    new Promise<void>((resolve) => {
      waiter = { marker, resolve }
      if (text.includes(marker)) {
        waiter = undefined
        resolve()
      }
    })
  // The prompt first: what the shell prints on start is not an echo.
  type('echo ready-$((6*7))\r')
  await echoed('ready-42')
  const times: number[] = []
  try {
    for (let i = 0; i < rounds + 3; i++) {
      text = ''
      const marker = `m${randomBytes(4).toString('hex')}q`
      const t = performance.now()
      const seen = echoed(marker)
      type(marker)
      await seen
      if (i >= 3) times.push(performance.now() - t)
      type('\u0015')
    }
  } finally {
    ws.terminate()
  }
  return times
}

/** A process's RSS inside the worker, from /proc/<pid>/status; the reading command's own left out. */
const PROCESSES = [
  'self=$$',
  'echo "self $self"',
  'for d in /proc/[0-9]*; do',
  '  n=; pp=; r=0',
  '  while read -r k v rest; do',
  '    case $k in Name:) n=$v ;; PPid:) pp=$v ;; VmRSS:) r=$v ;; esac',
  '  done < "$d/status" 2>/dev/null || continue',
  '  echo "p ${d#/proc/} $pp $n $r"',
  'done',
  'for f in /sys/fs/cgroup/memory.current /sys/fs/cgroup/memory/memory.usage_in_bytes; do',
  '  [ -r "$f" ] && { read -r m < "$f"; echo "cg $f $m"; break; }',
  'done',
].join('\n')

interface Proc {
  pid: number
  ppid: number
  name: string
  rssKb: number
}

/** The worker's processes but the reading command and those that run it, and its cgroup's charge. */
const idleMemory = async (c: Client, workerId: string, told?: number) => {
  const out = (await c.command(workerId, { argv: ['/bin/sh', '-c', PROCESSES] })).stdout
  const procs = new Map<number, Proc>()
  let self = 0
  let cgroup: { file: string; bytes: number } | undefined
  for (const line of out.split('\n')) {
    const [kind, a, b, name, rss] = line.split(' ')
    if (kind === 'self') self = Number(a)
    if (kind === 'p')
      procs.set(Number(a), {
        pid: Number(a),
        ppid: Number(b),
        name: name ?? '',
        rssKb: Number(rss),
      })
    if (kind === 'cg') cgroup = { file: a ?? '', bytes: Number(b) }
  }
  // The reading command and what started it (a wrapper, or the daemon's exec) up to the worker's
  // own processes: the entrypoint (pid 1) or the daemon.
  const skip = new Set<number>()
  for (let p = procs.get(self); p && p.pid !== 1 && p.name !== 'spawnerd'; p = procs.get(p.ppid))
    skip.add(p.pid)
  for (const p of procs.values()) if (skip.has(p.ppid)) skip.add(p.pid)
  const kept = [...procs.values()].filter((p) => !skip.has(p.pid))
  const daemon = kept.filter((p) => p.name === 'spawnerd')
  const rest = kept.filter((p) => p.name !== 'spawnerd')
  const mb = (kb: number) => (kb / 1024).toFixed(1)
  const sum = (ps: Proc[]) => ps.reduce((n, p) => n + p.rssKb, 0)
  return [
    `idle worker memory (one shell worker, from /proc/*/status VmRSS inside it)`,
    `  daemon     ${daemon.length ? `${mb(sum(daemon))} MB (${daemon.map((p) => `spawnerd ${mb(p.rssKb)}`).join(', ')})` : 'none running'}  (target ≤ 10 MB)`,
    `  entrypoint ${mb(sum(rest))} MB (${rest.map((p) => `${p.name} ${mb(p.rssKb)}`).join(', ')})`,
    ...(told === undefined
      ? []
      : [`  daemon's own report (ping): ${(told / 2 ** 20).toFixed(1)} MB`]),
    `  total      ${mb(sum(kept))} MB; cgroup ${cgroup ? `${(cgroup.bytes / 2 ** 20).toFixed(1)} MB (${cgroup.file})` : 'unreadable'}`,
    '',
  ]
}

/**
 * Stops a pooled service, its waiting containers removed through its runtime first (which
 * also clears what the runtime keeps for them on the host, such as their daemon directories).
 */
export const closePooled = async (node: RunningNode) => {
  node.spawner.pools?.close()
  const { service } = node.spawner
  await Promise.all(
    service
      .records()
      .filter((r) => r.pool)
      .map((r) => service.runtime.remove(r.containerId).catch(() => undefined)),
  )
  await node.close()
}

/** Pool-miss and warm-pool creates against `docker run -d`, alternately (see run.ts). */
export const benchCreates = async (startService: StartService, suffix: string, rounds: number) => {
  const lines: string[] = []
  const row = async (
    name: string,
    target: string,
    node: RunningNode,
    before?: () => Promise<void>,
  ) => {
    const c = client(node.url)
    const { runtime } = node.spawner.service
    const ours: number[] = []
    const cli: number[] = []
    const counted = countsOf(runtime)
    for (let i = 0; i < rounds; i++) {
      await before?.()
      let id = ''
      ours.push(await time(async () => (id = await c.create())))
      let cid = ''
      const args = ['run', '-d', '--network', 'none', '--label', LABEL, IMAGE]
      // The pool's refill (a container start) is over before the CLI's turn too.
      await before?.()
      cli.push(await time(async () => (cid = await docker(...args))))
      await docker('rm', '-f', cid)
      await c.remove(id)
    }
    // The Engine makes the container; a hand-out's writes take the daemon when it answers.
    const path = createPath(pathOf(counted, countsOf(runtime)))
    lines.push(...compared(name, path, ours, cli, 'docker run -d', target))
  }
  const fresh = await startService(`bench-d-${suffix}`)
  try {
    const c = client(fresh.url)
    await c.remove(await c.create())
    await docker(
      'rm',
      '-f',
      await docker('run', '-d', '--network', 'none', '--label', LABEL, IMAGE),
    )
    await row(
      'create-to-ready, pool miss (HTTP POST /v1/workers vs docker run -d --network none)',
      '≤ 0.8×',
      fresh,
    )
  } finally {
    await fresh.close()
  }
  const pooled = await startService(`bench-dp-${suffix}`, { WARM_POOLS: 'shell=2' })
  try {
    const pools = pooled.spawner.pools!
    await row(
      'create-to-ready from a warm pool (HTTP vs docker run -d --network none)',
      'p50 ≤ 25 ms',
      pooled,
      async () => {
        // Every create is a hit: the pool is full again before the next one.
        const until = Date.now() + 60_000
        while (pools.sizes().shell! < 2 && Date.now() < until)
          await new Promise((r) => setTimeout(r, 20))
      },
    )
  } finally {
    await closePooled(pooled)
    const left = await docker(
      'ps',
      '-aq',
      '--filter',
      `label=workers-spawner.instance=bench-dp-${suffix}`,
    )
    if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
  }
  return lines
}

/** The fast path's rows; `creates` adds the create rows (the default run has its own). */
export const benchDaemon = async (
  startService: StartService,
  suffix: string,
  opts: { creates: boolean },
) => {
  const lines: string[] = []
  // The bursts need room: by default a worker runs at most 8 commands at once, an instance 64.
  const node = await startService(`bench-daemon-${suffix}`, {
    MAX_WORKER_COMMANDS: String(BURST_ONE),
    MAX_COMMANDS: String(Math.max(BURST_ONE, BURST_MANY)),
  })
  const { runtime } = node.spawner.service
  const c = client(node.url)
  const dir = await mkdtemp(join(tmpdir(), 'bench-files-'))
  const made: string[] = []
  let cli = ''
  try {
    const id = await c.create()
    made.push(id)
    cli = await docker('run', '-d', '--network', 'none', '--label', LABEL, IMAGE)
    // Warm-up: the first command and file call on each side pay one-off costs.
    for (let i = 0; i < 3; i++) {
      await c.command(id, { argv: ['true'] })
      await docker('exec', cli, 'true')
    }

    // Commands.
    let before = countsOf(runtime)
    const ours: number[] = []
    const base: number[] = []
    for (let i = 0; i < ROUNDS; i++) {
      ours.push(await time(() => c.command(id, { argv: ['true'] })))
      base.push(await time(() => docker('exec', cli, 'true')))
    }
    lines.push(
      ...compared(
        'command round trip (send_command true vs docker exec C true)',
        pathOf(before, countsOf(runtime)),
        ours,
        base,
        'docker exec',
        'p50 ≤ 5 ms and ≤ 0.1×',
      ),
    )

    // Files: 1 KiB, through the file routes, against docker cp and docker exec cat.
    const small = new Uint8Array(randomBytes(KIB))
    const big = new Uint8Array(randomBytes(BIG))
    const smallHost = join(dir, 'small.bin')
    const bigHost = join(dir, 'big.bin')
    await writeFile(smallHost, small)
    await writeFile(bigHost, big)
    await c.put(id, '/workspace/small.bin', small)
    await docker('cp', smallHost, `${cli}:/tmp/small.bin`)
    for (const [what, ourOp, cliOp, bytes, rounds] of [
      [
        '1 KiB file put (PUT /files vs docker cp)',
        () => c.put(id, '/workspace/small.bin', small),
        () => docker('cp', smallHost, `${cli}:/tmp/small.bin`),
        KIB,
        FILE_ROUNDS,
      ],
      [
        '1 KiB file get (GET /files vs docker exec C cat)',
        () => c.get(id, '/workspace/small.bin'),
        () => dockerRead(['exec', cli, 'cat', '/tmp/small.bin']),
        KIB,
        FILE_ROUNDS,
      ],
      [
        '10 MiB file put (PUT /files vs docker cp)',
        () => c.put(id, '/workspace/big.bin', big),
        () => docker('cp', bigHost, `${cli}:/tmp/big.bin`),
        BIG,
        BIG_ROUNDS,
      ],
      [
        '10 MiB file get (GET /files vs docker exec C cat)',
        async () => {
          const got = await c.get(id, '/workspace/big.bin')
          if (got.byteLength !== BIG) throw new Error(`read ${got.byteLength} bytes`)
        },
        async () => {
          const got = await dockerRead(['exec', cli, 'cat', '/tmp/big.bin'])
          if (got !== BIG) throw new Error(`docker read ${got} bytes`)
        },
        BIG,
        BIG_ROUNDS,
      ],
    ] as const) {
      before = countsOf(runtime)
      const o: number[] = []
      const b: number[] = []
      for (let i = 0; i < rounds; i++) {
        o.push(await time(ourOp))
        b.push(await time(cliOp))
      }
      const path = pathOf(before, countsOf(runtime))
      if (bytes === KIB) lines.push(...compared(what, path, o, b, 'docker', 'p50 ≤ 5 ms'))
      else {
        lines.push(
          `${what}  [${path}]`,
          `  ours      ${mbps(bytes, o)} (${stat(o)}, n=${o.length})`,
          `  docker    ${mbps(bytes, b)} (${stat(b)})`,
          '  target    ≥ 200 MB/s',
          '',
        )
      }
    }

    // 100 commands at once on one worker.
    before = countsOf(runtime)
    const oneAgent = await burstAgent(node.url, BURST_ONE)
    const one = await burst(BURST_ONE, () =>
      oneAgent.post(`/v1/workers/${id}/commands`, { argv: ['true'] }),
    )
    oneAgent.close()
    lines.push(
      `${BURST_ONE} concurrent send_command true on one worker (MAX_WORKER_COMMANDS=${BURST_ONE})  [${pathOf(before, countsOf(runtime))}]`,
      `  ours      ${stat(one.times)}  (all done in ${fmt(one.wallMs)}; ${one.errors} errors${one.first ? `: ${one.first}` : ''})`,
      '',
    )

    // The terminal's echo.
    before = countsOf(runtime)
    const echo = await terminalEcho(node.url, id, ECHO_ROUNDS)
    lines.push(
      ...compared(
        'PTY echo round trip (a marker typed into GET /v1/workers/:id/terminal, until echoed)',
        pathOf(before, countsOf(runtime)),
        echo,
        undefined,
        '',
        'p50 ≤ 10 ms',
      ),
    )

    // Idle memory of a worker that has run nothing of its own.
    const idle = await c.create()
    made.push(idle)
    await c.command(idle, { argv: ['true'] })
    // A runtime with daemons also asks the daemon itself (its `ping` answers its RSS).
    const containerId = node.spawner.service.records().find((r) => r.workerId === idle)?.containerId
    const info = (
      runtime as { daemonInfo?: (id: string) => Promise<{ rssBytes?: number } | undefined> }
    ).daemonInfo
    const told = containerId && info ? (await info.call(runtime, containerId))?.rssBytes : undefined
    lines.push(...(await idleMemory(c, idle, told)))

    // 1,000 commands at once across 50 workers.
    const workers: string[] = []
    for (let i = 0; i < BURST_WORKERS; i++)
      workers.push(await c.create({ resources: { memoryMb: 128 } }))
    made.push(...workers)
    for (const w of workers) await c.command(w, { argv: ['true'] })
    const manyAgent = await burstAgent(node.url, BURST_MANY)
    before = countsOf(runtime)
    const many = await burst(BURST_MANY, (i) =>
      manyAgent.post(`/v1/workers/${workers[i % workers.length]}/commands`, { argv: ['true'] }),
    )
    manyAgent.close()
    lines.push(
      `${BURST_MANY} concurrent send_command true across ${BURST_WORKERS} workers (MAX_COMMANDS=${Math.max(BURST_ONE, BURST_MANY)})  [${pathOf(before, countsOf(runtime))}]`,
      `  ours      ${stat(many.times)}  (all done in ${fmt(many.wallMs)}; ${many.errors} errors${many.first ? `: ${many.first}` : ''})`,
      '',
    )
  } finally {
    await Promise.all(made.map((id) => c.remove(id).catch(() => undefined)))
    await node.close()
    if (cli) await docker('rm', '-f', cli).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    const left = await docker(
      'ps',
      '-aq',
      '--filter',
      `label=workers-spawner.instance=bench-daemon-${suffix}`,
    )
    if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
  }
  if (opts.creates) lines.unshift(...(await benchCreates(startService, suffix, CREATES)))
  return lines
}
