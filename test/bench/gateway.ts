/**
 * The model gateway's cost: one model call and one long streamed answer, timed from inside
 * workers (one `docker exec` each, so exec is not in the figures), through the gateway and
 * straight to the same upstream in the same run. The upstream is a stub on this machine.
 *
 *   BENCH_ONLY=gateway BENCH_MODEL_CALLS=300 BENCH_STREAM_MB=16 npm run bench
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import Dockerode from 'dockerode'
import { Redis } from 'ioredis'
import { bridgeGateway } from '../../src/node/auth-setup.ts'
import { defaultWorkerSocketDir } from '../../src/node/worker-socket.ts'
import type { RunningNode } from '../../src/node/start.ts'
import { median, percentile } from './stats.ts'

const run = promisify(execFile)
const CALLS = Number(process.env.BENCH_MODEL_CALLS ?? 300)
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 16)
const STREAMS = Number(process.env.BENCH_STREAMS ?? 5)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

type StartService = (instance: string, extra?: Record<string, string>) => Promise<RunningNode>

/** A path a model call takes from inside a worker (see gateway-client.mjs). */
interface Target {
  name: string
  base: string
  path: string
  key: string
  /** A new connection for each call. */
  fresh?: boolean
  /** Asks for a streamed answer. */
  stream?: boolean
  headers?: Record<string, string>
}

interface ClientResult {
  calls: Record<string, number[]>
  streams: Record<string, { ms: number; bytes: number }[]>
}

// An agent plugin whose CLI would call the Anthropic Messages API; only its gateway matters.
const PLUGIN = `import { defineAgent } from 'workers-spawner/plugin'

export default defineAgent({
  apiVersion: 'v1',
  name: 'bench-model',
  version: '1.0.0',
  description: 'Gateway bench: a model API behind the gateway; prompts run as bash',
  gateway: { keys: ['BENCH_MODEL_KEY'], baseUrl: 'BENCH_MODEL_BASE_URL' },
  prompt: ({ prompt }) => ({ argv: ['/bin/bash', '-c', prompt] }),
  parse: (result) => ({ text: result.stdout }),
})
`

/** The stub upstream in a worker thread, listening on each of `hosts`. */
const startStub = async (key: string, hosts: string[]) => {
  const thread = new Worker(new URL('./gateway-stub.mjs', import.meta.url), {
    workerData: { key, streamBytes: STREAM_MB * 1e6, hosts },
  })
  const { ports } = await new Promise<{ ports: number[] }>((resolve, reject) => {
    thread.once('message', resolve)
    thread.once('error', reject)
  })
  return {
    ports,
    served: async () => {
      const answer = new Promise<{ served: number }>((r) => thread.once('message', r))
      thread.postMessage('count')
      return (await answer).served
    },
    stop: () => thread.terminate(),
  }
}

const client = readFileSync(new URL('./gateway-client.mjs', import.meta.url), 'utf8')

/** Runs the client in the worker's container, as its user, in one exec. */
const measure = async (containerId: string, plan: unknown): Promise<ClientResult> => {
  const { stdout } = await run(
    'docker',
    [
      'exec',
      '-e',
      `BENCH_PLAN=${JSON.stringify(plan)}`,
      containerId,
      'node',
      '--input-type=module',
      '-e',
      client,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ClientResult
}

const ms = (v: number) => `${v.toFixed(2)} ms`.padStart(9)
const mbps = (s: { ms: number; bytes: number }) => s.bytes / 1e6 / (s.ms / 1000)

/**
 * Starts a service whose bench plugin's model API is a stub upstream, creates one worker with
 * the default network (the gateway through 127.0.0.1:3128 and the worker socket) and one with
 * `network: 'all'` (the gateway through the TCP worker listener, and the stub straight over the
 * bridge: the baseline), measures in each, and returns the lines to print.
 */
export const benchGateway = async (startService: StartService): Promise<string[]> => {
  const bridge = await bridgeGateway(new Dockerode())
  if (!bridge) throw new Error('no Docker bridge gateway: the direct baseline needs one')
  const realKey = `sk-bench-${randomBytes(16).toString('hex')}`
  const stub = await startStub(realKey, ['127.0.0.1', bridge])
  const pluginsDir = mkdtempSync(join(tmpdir(), 'ws-bench-plugins-'))
  mkdirSync(join(pluginsDir, 'bench-model'))
  writeFileSync(join(pluginsDir, 'bench-model', 'index.mjs'), PLUGIN)
  const instance = `bench-gw-${randomBytes(3).toString('hex')}`
  let node: RunningNode | undefined
  try {
    node = await startService(instance, {
      PLUGINS_DIR: pluginsDir,
      BENCH_MODEL_KEY: realKey,
      BENCH_MODEL_BASE_URL: `http://127.0.0.1:${stub.ports[0]}`,
    })
    const service = node.spawner.service
    const create = async (network?: string) => {
      const config = service.parseConfig({
        agent: 'bench-model',
        labels: { bench: '1' },
        ...(network ? { network } : {}),
      })
      const { workerId } = await service.create({ config })
      return service.get(workerId)
    }
    const isolated = await create()
    const open = await create('all')
    const direct = { base: `http://${bridge}:${stub.ports[1]}`, key: realKey, path: '/v1/messages' }
    const gw = { base: 'gateway', key: 'gateway', path: '/v1/messages' }
    const sse = { stream: true }
    const fresh = { fresh: true }
    const long = { headers: { 'x-bench-stream': 'long' } }
    const health = { name: 'health', base: 'gateway-origin', path: '/healthz', key: '' }
    const calls = (targets: Target[]) => ({ warm: 30, rounds: CALLS, targets })
    const streams = (targets: Target[]) => ({ warm: 1, rounds: STREAMS, targets })
    const o = await measure(open.containerId, {
      calls: calls([
        { name: 'direct', ...direct },
        { name: 'gateway', ...gw },
        { name: 'direct-sse', ...direct, ...sse },
        { name: 'gateway-sse', ...gw, ...sse },
        health,
        { name: 'direct-fresh', ...direct, ...fresh },
        { name: 'gateway-fresh', ...gw, ...fresh },
      ]),
      streams: streams([
        { name: 'direct', ...direct, ...long },
        { name: 'gateway', ...gw, ...long },
      ]),
    })
    const i = await measure(isolated.containerId, {
      calls: calls([
        health,
        { name: 'gateway', ...gw },
        { name: 'gateway-sse', ...gw, ...sse },
        { name: 'gateway-fresh', ...gw, ...fresh },
      ]),
      streams: streams([{ name: 'gateway', ...gw, ...long }]),
    })
    const served = await stub.served()
    const spent = (await service.status({ workerId: isolated.workerId })).spend

    // `≥35 ms`: the share of calls a relay held for a delayed ACK (Nagle), which a median hides.
    const row = (label: string, s: number[], against?: number[]) =>
      `    ${label.padEnd(52)}${ms(median(s))}${ms(percentile(s, 95))}` +
      `${`${Math.round((100 * s.filter((v) => v >= 35).length) / s.length)}%`.padStart(7)}` +
      (against ? `${(median(s) - median(against)).toFixed(2).padStart(10)} ms` : '')
    const rate = (s: { ms: number; bytes: number }[]) => median(s.map(mbps))
    const streamRow = (label: string, s: { ms: number; bytes: number }[]) =>
      `    ${label.padEnd(52)}${rate(s).toFixed(0).padStart(6)} MB/s` +
      (s === o.streams.direct ? '' : `   ${(rate(s) / rate(o.streams.direct!)).toFixed(2)}× direct`)
    const sizeMb = (o.streams.direct![0]?.bytes ?? 0) / 1e6
    const tcp = "gateway, TCP worker listener ('all')"
    const socat = 'gateway, 127.0.0.1:3128 → socat → socket (default)'
    const added = median(i.calls['gateway-sse']!) - median(o.calls['direct-sse']!)
    return [
      `model gateway: one model call (Anthropic Messages), timed inside the workers, n=${CALLS}`,
      `  ${'keep-alive connection, as SDK clients hold one'.padEnd(54)}   median      p95  ≥35 ms` +
        '  added median',
      '  short streamed answer (7 SSE events)',
      row("direct to the upstream over the bridge ('all')", o.calls['direct-sse']!),
      row(tcp, o.calls['gateway-sse']!, o.calls['direct-sse']),
      row(socat, i.calls['gateway-sse']!, o.calls['direct-sse']),
      '  JSON answer',
      row("direct to the upstream over the bridge ('all')", o.calls.direct!),
      row(tcp, o.calls.gateway!, o.calls.direct),
      row(socat, i.calls.gateway!, o.calls.direct),
      '  the worker API alone (GET /healthz, no gateway, no upstream)',
      row("TCP worker listener ('all')", o.calls.health!, o.calls.direct),
      row('127.0.0.1:3128 → socat → socket (default)', i.calls.health!, o.calls.direct),
      '  JSON answer, a new connection per call',
      row("direct to the upstream over the bridge ('all')", o.calls['direct-fresh']!),
      row(tcp, o.calls['gateway-fresh']!, o.calls['direct-fresh']),
      row(socat, i.calls['gateway-fresh']!, o.calls['direct-fresh']),
      `  added median per streamed model call, default network: ${added.toFixed(2)} ms (goal ≤ 2 ms)`,
      '',
      `model gateway: a long streamed answer, ${sizeMb.toFixed(1)} MB of SSE content_block_delta events, n=${STREAMS}`,
      streamRow("direct to the upstream over the bridge ('all')", o.streams.direct!),
      streamRow(tcp, o.streams.gateway!),
      streamRow(socat, i.streams.gateway!),
      `  upstream served ${served} calls; metered for the default-network worker: ` +
        `${spent.requests} calls, ${spent.outputTokens} output tokens`,
      '',
    ]
  } finally {
    // Through the runtime: what it keeps on the host for a container (its daemon's directory)
    // goes with it.
    const service = node?.spawner.service
    await Promise.all(
      (service?.records() ?? []).map((r) =>
        service!.runtime.remove(r.containerId).catch(() => undefined),
      ),
    )
    await node?.close()
    await stub.stop()
    rmSync(pluginsDir, { recursive: true, force: true })
    // The worker socket's directory outlives a service for its workers; these are gone.
    rmSync(defaultWorkerSocketDir(instance), { recursive: true, force: true })
    const left = (
      await run('docker', ['ps', '-aq', '--filter', `label=workers-spawner.instance=${instance}`])
    ).stdout.trim()
    if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${instance}-*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  }
}
