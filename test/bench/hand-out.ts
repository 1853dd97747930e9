/**
 * Warm-pool creates through the HTTP API alone, and the Engine calls one hand-out makes:
 *
 *   WORKER_IMAGE=workers-spawner/universal-worker:spawnerd BENCH_CREATES=25 \
 *     npx tsx test/bench/hand-out.ts    (BENCH_FILES=1: with a file and env)
 */
import { randomBytes } from 'node:crypto'
import { startNode } from '../../src/node/start.ts'
import { closePooled } from './daemon.ts'
import { median, percentile } from './stats.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:spawnerd'
const CREATES = Number(process.env.BENCH_CREATES ?? 25)
/** BENCH_FILES=1: each create also has a file and an env variable (written at hand-out). */
const WITH = process.env.BENCH_FILES ? { files: { 'notes.txt': 'hi' }, env: { NOTE: '1' } } : {}

/** The service's debug lines, kept while `recording` (the Engine calls of one hand-out). */
let recording: string[] | undefined
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)
  if (text.startsWith('{"level"')) {
    recording?.push(...text.split('\n').filter(Boolean))
    return true
  }
  return write(chunk, ...rest)
}) as typeof process.stdout.write

const main = async () => {
  const instance = `bench-ho-${randomBytes(3).toString('hex')}`
  const node = await startNode({
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_PORT: '0',
    WATCH_PLUGINS: '0',
    WORKER_IMAGE: IMAGE,
    LOG_LEVEL: 'debug',
    SPAWNER_INSTANCE: instance,
    SPAWNER_TOKEN_SECRET: randomBytes(32).toString('hex'),
    REDIS_PREFIX: `${instance}-x`,
    WARM_POOLS: 'shell=2',
  })
  const pools = node.spawner.pools!
  const full = async () => {
    const until = Date.now() + 60_000
    while (pools.sizes().shell! < 2 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 5))
  }
  const create = async () => {
    const res = await fetch(`${node.url}/v1/workers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'shell', labels: { bench: '1' }, ...WITH }),
    })
    if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`)
    return String(((await res.json()) as { workerId: string }).workerId)
  }
  const times: number[] = []
  try {
    // One-off costs (first connections, first image lookups) before the measured ones.
    await full()
    await fetch(`${node.url}/v1/workers/${await create()}`, { method: 'DELETE' })
    for (let i = 0; i < CREATES; i++) {
      await full()
      recording = i === CREATES - 1 ? [] : undefined
      const t = performance.now()
      const id = await create()
      times.push(performance.now() - t)
      const calls = (recording ?? [])
        .map((l) => JSON.parse(l) as { msg: string; containerId?: string; name?: string })
        .filter((l) => /^docker /.test(l.msg) && !/ done$/.test(l.msg))
        .map((l) => `${l.msg} ${(l.containerId ?? l.name ?? '').slice(0, 12)}`)
      recording = undefined
      if (i === CREATES - 1)
        console.log(`Engine calls in the last hand-out: ${JSON.stringify(calls)}`)
      await fetch(`${node.url}/v1/workers/${id}`, { method: 'DELETE' })
    }
  } finally {
    recording = undefined
    await closePooled(node)
  }
  console.log(
    `warm-pool create over HTTP, n=${times.length}: p50 ${median(times).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms`,
  )
}

await main()
