/**
 * What a preview request costs: `GET /` of a small server in a worker through the preview
 * relay (one exec of socat per request), against one exec round trip (`runtime.exec(['true'])`)
 * and against the same GET made from inside the container (`curl` there: no relay). Prints
 * medians; it asserts nothing. Run: `npx tsx test/bench/previews.ts`.
 */
import { DockerRuntime } from '../../src/docker/docker-runtime.ts'
import { previewForwarder } from '../../src/node/preview-forward.ts'
import { fmt, median, percentile } from './stats.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const ROUNDS = Number(process.env.ROUNDS ?? 40)
const PORT = 8123
const SERVER = `require('node:http').createServer((q, s) => s.end('x'.repeat(1024))).listen(${PORT}, () => require('node:fs').writeFileSync('/tmp/ready', ''))`

const show = (s: number[]) => `median ${fmt(median(s))}  p90 ${fmt(percentile(s, 90))}`

const runtime = new DockerRuntime()
const id = await runtime.run({
  name: `ws-bench-previews-${process.pid}`,
  image: IMAGE,
  env: {},
  labels: { 'workers-spawner.test': '1' },
  user: '1000:1000',
  workdir: '/tmp',
  mounts: [],
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
  network: 'isolated',
})
try {
  await runtime.exec(id, {
    argv: [
      '/bin/sh',
      '-c',
      `setsid node -e "${SERVER}" </dev/null >/dev/null 2>&1 & while [ ! -e /tmp/ready ]; do sleep 0.05; done`,
    ],
  })
  const forward = previewForwarder(runtime, { headersTimeoutMs: 30_000, maxConnections: 64 })!
  const target = { workerId: 'bench', containerId: id, port: PORT, path: '/' }
  const preview = async () => {
    const res = await forward(target, new Request('http://bench/'))
    if ((await res.text()).length !== 1024) throw new Error('short answer')
  }
  const exec = () => runtime.exec(id, { argv: ['true'] })
  const inside = () =>
    runtime.exec(id, { argv: ['curl', '-s', '-o', '/dev/null', `http://127.0.0.1:${PORT}/`] })
  const samples = { preview: [] as number[], exec: [] as number[], inside: [] as number[] }
  for (let i = 0; i < 3; i++) await preview().then(exec).then(inside)
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, fn] of [
      ['preview', preview],
      ['exec', exec],
      ['inside', inside],
    ] as const) {
      const t = performance.now()
      await fn()
      samples[name].push(performance.now() - t)
    }
  }
  console.log(`preview GET / (relay per request)  ${show(samples.preview)}`)
  console.log(`runtime.exec(['true'])             ${show(samples.exec)}`)
  console.log(`curl inside the worker (an exec)   ${show(samples.inside)}`)
  const started = performance.now()
  await Promise.all(Array.from({ length: 20 }, preview))
  console.log(`20 concurrent preview GETs         ${(performance.now() - started).toFixed(0)} ms`)
} finally {
  await runtime.remove(id)
}
