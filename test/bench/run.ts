/**
 * `npm run bench`: the service against the raw docker CLI, measured alternately in one run on
 * a warm image. Prints medians, p95 and ratios; asserts nothing.
 *
 *   BENCH_CREATES=20 BENCH_COMMANDS=50 npm run bench
 *   BENCH_ONLY=gateway npm run bench    (the model gateway's figures alone)
 *   BENCH_ONLY=checkpoints npm run bench    (checkpoints and forks against a create)
 *   BENCH_ONLY=acp npm run bench        (agents over ACP against headless; see acp.ts)
 *   BENCH_ONLY=daemon npm run bench     (the fast path: commands, files, bursts, terminal,
 *                                        creates, idle memory; see daemon.ts)
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpus, totalmem } from 'node:os'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { startNode, type RunningNode } from '../../src/node/start.ts'
import { compare, fmt, median } from './stats.ts'
import { benchAgents } from './agents.ts'
import { benchGateway } from './gateway.ts'
import { benchCheckpoints } from './checkpoints.ts'
import { benchAcp } from './acp.ts'
import { benchDaemon, closePooled, countsOf, createPath, pathOf } from './daemon.ts'

const run = promisify(execFile)
const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const CREATES = Number(process.env.BENCH_CREATES ?? 15)
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 40)
const LABEL = 'workers-spawner.bench=1'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const STATUS_WORKERS = Number(process.env.BENCH_STATUS_WORKERS ?? 50)
const STATUS_REQUESTS = Number(process.env.BENCH_STATUS_REQUESTS ?? 5000)

const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim()

/** The service exactly as `npm start` runs it (same entry, same settings reader), on a free port. */
const startService = (instance: string, extra: Record<string, string> = {}) => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_PORT: '0',
    WATCH_PLUGINS: '0',
    WORKER_IMAGE: IMAGE,
    LOG_LEVEL: 'warn',
    SPAWNER_INSTANCE: instance,
    SPAWNER_TOKEN_SECRET: randomBytes(32).toString('hex'),
    REDIS_URL,
    REDIS_PREFIX: `${instance}-${randomBytes(3).toString('hex')}`,
    REDIS_BLOCK_MS: '1000',
    WARM_POOLS: '',
    ...extra,
  }
  // Calls from loopback without a token are an operator's, as with a plain `npm start`.
  delete env.SPAWNER_API_TOKEN
  return startNode(env)
}

const header = async () => {
  const engine = await docker('version', '--format', '{{.Server.Version}}')
  return `\nworkers-spawner bench — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Docker ${engine}, Node ${process.version}, image ${IMAGE}\n`
}

const main = async () => {
  const images = await docker('images', '-q', IMAGE)
  if (!images) throw new Error(`image ${IMAGE} missing: npm run image:worker`)
  const suffix = randomBytes(3).toString('hex')
  const node: RunningNode = await startService(`bench-${suffix}`)
  const { service } = node.spawner
  const base = node.url
  const post = async (path: string, body: unknown, at = base) => {
    const res = await fetch(at + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as Record<string, unknown>
  }

  const rows: (ReturnType<typeof compare> & { path: string })[] = []
  const redisExtra: string[] = []
  // Which path each row's worker calls took (see `pathOf`); creates are the Engine's.
  const { runtime } = service
  let counted = countsOf(runtime)
  let agentRows: Awaited<ReturnType<typeof benchAgents>> = []
  let agentPath = ''
  try {
    // Warm-up: first container start and first exec pay one-off costs on both sides.
    const warm = await post('/v1/workers', { agent: 'shell', labels: { bench: '1' } })
    await post(`/v1/workers/${warm.workerId}/commands`, { argv: ['true'] })
    // Workers are isolated by default (no network), so the docker side runs with none too.
    const warmCli = await docker('run', '-d', '--network', 'none', '--label', LABEL, IMAGE)
    await docker('exec', warmCli, 'true')

    const ours: number[] = []
    const cli: number[] = []
    const made: string[] = []
    counted = countsOf(runtime)
    for (let i = 0; i < CREATES; i++) {
      let id = ''
      ours.push(
        await time(async () => {
          id = String(
            (await post('/v1/workers', { agent: 'shell', labels: { bench: '1' } })).workerId,
          )
        }),
      )
      made.push(id)
      let cid = ''
      cli.push(
        await time(async () => {
          cid = await docker('run', '-d', '--network', 'none', '--label', LABEL, IMAGE)
        }),
      )
      await docker('rm', '-f', cid)
      await fetch(`${base}/v1/workers/${id}`, { method: 'DELETE' })
    }
    rows.push({
      ...compare(
        'create-to-ready (HTTP POST /v1/workers vs docker run -d --network none)',
        ours,
        cli,
        'docker run -d',
      ),
      path: createPath(pathOf(counted, countsOf(runtime))),
    })

    // Warm pool: every create is a hit (the pool is refilled before the next one). A second
    // service, as `WARM_POOLS=shell=2 npm start` runs it.
    const pooled = await startService(`bench-pool-${suffix}`, { WARM_POOLS: 'shell=2' })
    const pools = pooled.spawner.pools!
    const poolOurs: number[] = []
    const poolCli: number[] = []
    const poolRuntime = pooled.spawner.service.runtime
    const poolCounted = countsOf(poolRuntime)
    let poolPath = ''
    try {
      // Each side starts with the pool full: no refill (a container start) runs meanwhile.
      const full = async () => {
        const until = Date.now() + 60_000
        while (pools.sizes().shell! < 2 && Date.now() < until)
          await new Promise((r) => setTimeout(r, 20))
      }
      for (let i = 0; i < CREATES; i++) {
        await full()
        let id = ''
        poolOurs.push(
          await time(async () => {
            id = String(
              (await post('/v1/workers', { agent: 'shell', labels: { bench: '1' } }, pooled.url))
                .workerId,
            )
          }),
        )
        await full()
        let cid = ''
        poolCli.push(
          await time(async () => {
            cid = await docker('run', '-d', '--network', 'none', '--label', LABEL, IMAGE)
          }),
        )
        await docker('rm', '-f', cid)
        await fetch(`${pooled.url}/v1/workers/${id}`, { method: 'DELETE' })
      }
      poolPath = createPath(pathOf(poolCounted, countsOf(poolRuntime)))
    } finally {
      await closePooled(pooled)
      const left = await docker(
        'ps',
        '-aq',
        '--filter',
        `label=workers-spawner.instance=bench-pool-${suffix}`,
      )
      if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
    }
    rows.push({
      ...compare(
        'create-to-ready from a warm pool (HTTP vs docker run -d --network none)',
        poolOurs,
        poolCli,
        'docker run -d',
      ),
      path: poolPath,
    })

    const execOurs: number[] = []
    const execCli: number[] = []
    counted = countsOf(runtime)
    for (let i = 0; i < COMMANDS; i++) {
      execOurs.push(
        await time(() => post(`/v1/workers/${warm.workerId}/commands`, { argv: ['true'] })),
      )
      execCli.push(await time(() => docker('exec', warmCli, 'true')))
    }
    rows.push({
      ...compare(
        'command round trip (send_command true vs docker exec true)',
        execOurs,
        execCli,
        'docker exec',
      ),
      path: pathOf(counted, countsOf(runtime)),
    })

    // Redis: the same service's Redis adapter, against its HTTP API in the same run.
    const adapter = node.redis!
    const producer = new Redis(REDIS_URL)
    const reader = new Redis(REDIS_URL)
    const names = adapter.consumer.names
    let cursor = '0-0'
    const waitAnswer = async (requestId: string) => {
      for (;;) {
        const reply = (await reader.call(
          'XREAD',
          'BLOCK',
          '5000',
          'STREAMS',
          names.responses,
          cursor,
        )) as [string, [string, string[]][]][] | null
        for (const [, entries] of reply ?? []) {
          for (const [id, f] of entries) {
            cursor = id
            if (f[f.indexOf('request_id') + 1] === requestId) return f
          }
        }
      }
    }
    try {
      const [last] = await producer.xrevrange(names.responses, '+', '-', 'COUNT', 1)
      cursor = last?.[0] ?? '0-0'
      const viaRedis: number[] = []
      const viaHttp: number[] = []
      counted = countsOf(runtime)
      for (let i = 0; i < COMMANDS; i++) {
        viaRedis.push(
          await time(async () => {
            const requestId = `b-${i}`
            await producer.xadd(
              names.commands,
              '*',
              'request_id',
              requestId,
              'command',
              'send_command',
              'payload',
              JSON.stringify({ workerId: warm.workerId, argv: ['true'] }),
            )
            await waitAnswer(requestId)
          }),
        )
        viaHttp.push(
          await time(() => post(`/v1/workers/${warm.workerId}/commands`, { argv: ['true'] })),
        )
      }
      rows.push({
        ...compare('send_command true round trip (Redis vs HTTP)', viaRedis, viaHttp, 'HTTP'),
        path: pathOf(counted, countsOf(runtime)),
      })
      redisExtra.push(
        `  Redis − HTTP median: ${(median(viaRedis) - median(viaHttp)).toFixed(1)} ms (target ≤ +5 ms)`,
      )

      // status throughput through Redis with many workers.
      const workers: string[] = []
      for (let i = 0; i < STATUS_WORKERS; i++) {
        workers.push(
          String(
            (
              await post('/v1/workers', {
                agent: 'shell',
                labels: { bench: '1' },
                resources: { memoryMb: 128 },
              })
            ).workerId,
          ),
        )
      }
      const before = await producer.xlen(names.responses)
      const t0 = performance.now()
      for (let i = 0; i < STATUS_REQUESTS; i += 500) {
        const p = producer.pipeline()
        for (let j = i; j < Math.min(i + 500, STATUS_REQUESTS); j++) {
          p.xadd(
            names.commands,
            '*',
            'request_id',
            `s-${j}`,
            'command',
            'status',
            'payload',
            JSON.stringify({ workerId: workers[j % workers.length] }),
          )
        }
        await p.exec()
      }
      while ((await producer.xlen(names.responses)) - before < STATUS_REQUESTS)
        await new Promise((r) => setTimeout(r, 5))
      const seconds = (performance.now() - t0) / 1000
      const failures = (await producer.xrange(names.responses, '-', '+')).filter(
        ([, f]) => f[f.indexOf('ok') + 1] === '0',
      ).length
      redisExtra.push(
        `status through Redis, ${STATUS_WORKERS} workers, ${STATUS_REQUESTS} requests: ${(STATUS_REQUESTS / seconds).toFixed(0)} requests/s (${failures} errors; target ≥ 2,000/s)`,
      )
      for (const id of workers) await fetch(`${base}/v1/workers/${id}`, { method: 'DELETE' })
    } finally {
      producer.disconnect()
      reader.disconnect()
    }

    await fetch(`${base}/v1/workers/${warm.workerId}`, { method: 'DELETE' })
    await docker('rm', '-f', warmCli)

    const agents = (process.env.BENCH_AGENTS ?? 'claude-code').split(',').filter(Boolean)
    counted = countsOf(runtime)
    agentRows = await benchAgents(service, agents, Number(process.env.BENCH_PROMPTS ?? 10))
    agentPath = pathOf(counted, countsOf(runtime))
  } finally {
    await node.close()
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`bench-*${suffix}-*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
    const left = await docker('ps', '-aq', '--filter', `label=${LABEL}`)
    if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
    const ws = await docker('ps', '-aq', '--filter', 'label=bench=1')
    if (ws) await run('docker', ['rm', '-f', ...ws.split('\n')])
  }

  const gatewayLines = await benchGateway(startService)
  // Its create rows are the ones above.
  const daemonLines = await benchDaemon(startService, suffix, { creates: false })
  console.log(await header())
  for (const r of rows) {
    console.log(`${r.name}  [${r.path}]`)
    console.log(`  ours      median ${fmt(r.ours.median)}  p95 ${fmt(r.ours.p95)}  (n=${r.n})`)
    console.log(
      `  ${r.baseline.name.padEnd(9)} median ${fmt(r.baseline.median)}  p95 ${fmt(r.baseline.p95)}`,
    )
    console.log(`  ratio     median ${r.ratioMedian.toFixed(2)}×  p95 ${r.ratioP95.toFixed(2)}×\n`)
  }
  for (const line of redisExtra) console.log(line)
  for (const r of agentRows) {
    console.log(`${r.name}  [${agentPath}]`)
    console.log(`  ours      median ${fmt(r.ours.median)}  p95 ${fmt(r.ours.p95)}  (n=${r.n})`)
    console.log(`  docker exec median ${fmt(r.baseline.median)}  p95 ${fmt(r.baseline.p95)}`)
    console.log(`  overhead  median ${fmt(r.ours.median - r.baseline.median)} (target ≤ 50 ms)\n`)
  }
  for (const line of gatewayLines) console.log(line)
  console.log('')
  for (const line of daemonLines) console.log(line)
  if (process.env.BENCH_JSON) console.log(JSON.stringify(rows))
}

if (process.env.BENCH_ONLY === 'acp') {
  const agents = process.env.BENCH_AGENTS ?? 'gemini-cli,opencode,claude-code,codex'
  const lines = await benchAcp(startService, agents.split(',').filter(Boolean))
  console.log(await header())
  for (const line of lines) console.log(line)
} else if (process.env.BENCH_ONLY === 'gateway') {
  const lines = await benchGateway(startService)
  console.log(await header())
  for (const line of lines) console.log(line)
} else if (process.env.BENCH_ONLY === 'daemon') {
  const lines = await benchDaemon(startService, randomBytes(3).toString('hex'), { creates: true })
  console.log(await header())
  for (const line of lines) console.log(line)
} else if (process.env.BENCH_ONLY === 'checkpoints') {
  const lines = await benchCheckpoints(startService, randomBytes(3).toString('hex'))
  console.log(await header())
  for (const line of lines) console.log(line)
} else await main()
