/**
 * Cost of the runtime's file calls: `putFile` and `getFile` of a small file (1 KiB) and of
 * 1 MiB, and `exec` with stdin. Prints medians; it asserts nothing.
 * Run: `ROUNDS=300 npx tsx test/bench/file-roundtrip.ts` (TEST_RUNTIME=remote: through a host
 * agent).
 */
import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import type { ContainerRuntime } from '../../src/core/runtime.ts'
import { startTestRuntime } from '../support/harness.ts'
import { median, percentile } from './stats.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const ROUNDS = Number(process.env.ROUNDS ?? 100)

const time = async (fn: () => Promise<unknown>): Promise<number[]> => {
  for (let i = 0; i < 5; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now()
    await fn()
    samples.push(performance.now() - started)
  }
  return samples
}

const row = (name: string, samples: number[]) => {
  const p95 = percentile(samples, 95).toFixed(1)
  console.log(`${name.padEnd(24)} median ${median(samples).toFixed(1)} ms  p95 ${p95} ms`)
}

const { runtime, close } = await startTestRuntime(new Dockerode())
const id = await runtime.run({
  name: `ws-bench-files-${process.pid}`,
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
const bench = async (r: ContainerRuntime) => {
  const small = new Uint8Array(randomBytes(1024))
  const big = new Uint8Array(randomBytes(1024 * 1024))
  row('putFile 1 KiB', await time(() => r.putFile(id, '/workspace/small.bin', small)))
  row('getFile 1 KiB', await time(() => r.getFile(id, '/workspace/small.bin')))
  row('putFile 1 MiB', await time(() => r.putFile(id, '/workspace/big.bin', big)))
  row('getFile 1 MiB', await time(() => r.getFile(id, '/workspace/big.bin')))
  row('exec true', await time(() => r.exec(id, { argv: ['true'] })))
  const stdin = 'x'.repeat(1024)
  row('exec cat, 1 KiB stdin', await time(() => r.exec(id, { argv: ['cat'], stdin })))
}
try {
  await bench(runtime)
} finally {
  await runtime.remove(id)
  await close()
}
