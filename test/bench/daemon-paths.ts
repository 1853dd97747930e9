/**
 * The same operations on one container through its daemon and through the Engine: `exec true`
 * (p50/p95), 1 KiB put and get (p50), 10 MiB put and get (MB/s). Prints figures; asserts
 * nothing. Run: `WORKER_IMAGE=… npx tsx test/bench/daemon-paths.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DockerRuntime } from '../../src/docker/docker-runtime.ts'
import { WorkerDaemons } from '../../src/docker/daemon/worker-daemons.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const ROUNDS = Number(process.env.ROUNDS ?? 100)

const at = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))] ?? NaN

/** Times `fn` `n` times (after 3 unmeasured runs); sorted milliseconds. */
const time = async (n: number, fn: () => Promise<unknown>) => {
  for (let i = 0; i < 3; i++) await fn()
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    await fn()
    out.push(performance.now() - started)
  }
  return out.sort((a, b) => a - b)
}

const dir = mkdtempSync(join(tmpdir(), 'ws-dmn-'))
const daemons = await WorkerDaemons.open({ dir })
const viaDaemon = new DockerRuntime({ daemons })
const viaEngine = new DockerRuntime()
const id = await viaDaemon.run({
  name: `ws-bench-daemon-${process.pid}`,
  image: IMAGE,
  env: {},
  labels: { 'workers-spawner.test': '1' },
  user: '1000:1000',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 1024 * 1024 * 1024,
  nanoCpus: 2e9,
  pidsLimit: 256,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})
try {
  const small = new Uint8Array(1024).fill(97)
  const big = new Uint8Array(10 * 1024 * 1024).map((_, i) => i % 251)
  for (const [label, rt] of [
    ['daemon', viaDaemon],
    ['engine', viaEngine],
  ] as const) {
    const before = viaDaemon.daemonStats()
    const exec = await time(ROUNDS, () => rt.exec(id, { argv: ['true'] }))
    const put = await time(ROUNDS, () => rt.putFile(id, '/workspace/s.bin', small))
    const get = await time(ROUNDS, () => rt.getFile(id, '/workspace/s.bin'))
    const bigPut = await time(5, () => rt.putFile(id, '/workspace/b.bin', big))
    const bigGet = await time(5, () => rt.getFile(id, '/workspace/b.bin'))
    const mbps = (ms: number) => (big.byteLength / 1e6 / (ms / 1000)).toFixed(0)
    const after = viaDaemon.daemonStats()
    console.log(
      `${label}: exec true p50 ${at(exec, 0.5).toFixed(2)} ms p95 ${at(exec, 0.95).toFixed(2)} ms; ` +
        `1 KiB put p50 ${at(put, 0.5).toFixed(2)} ms, get p50 ${at(get, 0.5).toFixed(2)} ms; ` +
        `10 MiB put ${mbps(at(bigPut, 0.5))} MB/s, get ${mbps(at(bigGet, 0.5))} MB/s ` +
        `(daemon ops ${after.daemon - before.daemon}, fallbacks ${after.fallback - before.fallback})`,
    )
  }
} finally {
  await viaDaemon.remove(id)
  await daemons.close()
  rmSync(dir, { recursive: true, force: true })
}
