/**
 * Round trip of `DockerRuntime.exec(['true'])` against `docker exec CONTAINER true`.
 * Prints medians; it asserts nothing. Run: `npx tsx test/bench/exec-roundtrip.ts`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { DockerRuntime } from '../../src/docker/docker-runtime.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const ROUNDS = Number(process.env.ROUNDS ?? 30)
const run = promisify(execFile)

/** Times `a` and `b` alternately, so load on the host affects both alike. */
const timePair = async (a: () => Promise<unknown>, b: () => Promise<unknown>) => {
  for (let i = 0; i < 3; i++) await a().then(b)
  const samples: [number[], number[]] = [[], []]
  const once = async (fn: () => Promise<unknown>, into: number[]) => {
    const started = performance.now()
    await fn()
    into.push(performance.now() - started)
  }
  for (let i = 0; i < ROUNDS; i++) {
    await once(a, samples[0])
    await once(b, samples[1])
  }
  return samples.map((s) => s.sort((x, y) => x - y))
}

const at = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))] ?? NaN
const fmt = (sorted: number[]) =>
  `median ${at(sorted, 0.5).toFixed(1)} ms  p90 ${at(sorted, 0.9).toFixed(1)} ms  ` +
  `min ${at(sorted, 0).toFixed(1)} ms`

const runtime = new DockerRuntime()
const id = await runtime.run({
  name: `ws-bench-${process.pid}`,
  image: IMAGE,
  env: {},
  labels: { 'workers-spawner.test': '1' },
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})
try {
  const [service = [], cli = []] = await timePair(
    () => runtime.exec(id, { argv: ['true'] }),
    () => run('docker', ['exec', id, 'true']),
  )
  console.log(`runtime.exec(['true'])   ${fmt(service)}`)
  console.log(`docker exec … true       ${fmt(cli)}`)
  console.log(`ratio (median)           ${(at(service, 0.5) / at(cli, 0.5)).toFixed(2)}`)
} finally {
  await runtime.remove(id)
}
