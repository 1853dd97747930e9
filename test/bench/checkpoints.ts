/**
 * Checkpoints and forks against a create that misses the warm pool, in one run on a warm image:
 * create, checkpoint, fork of 1 and fork of 4 (per fork) from that checkpoint, and a fork that
 * takes its checkpoint first; each with a small workspace and with `BENCH_WORKSPACE_MB` of files.
 *
 *   BENCH_ONLY=checkpoints BENCH_FORKS=5 BENCH_WORKSPACE_MB=100 npm run bench
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { RunningNode } from '../../src/node/start.ts'
import { median, percentile } from './stats.ts'

const run = promisify(execFile)
const ROUNDS = Number(process.env.BENCH_FORKS ?? 5)
const WORKSPACE_MB = Number(process.env.BENCH_WORKSPACE_MB ?? 100)

type StartService = (instance: string, extra?: Record<string, string>) => Promise<RunningNode>

const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t = performance.now()
  const value = await fn()
  return [performance.now() - t, value]
}

const row = (name: string, samples: number[], create?: number) => {
  const ratio = create ? `  ${(median(samples) / create).toFixed(2)}× create` : ''
  return `  ${name.padEnd(44)} median ${median(samples).toFixed(0).padStart(6)} ms  p95 ${percentile(samples, 95).toFixed(0).padStart(6)} ms${ratio}`
}

/** Prints the figures; asserts nothing. */
export const benchCheckpoints = async (start: StartService, suffix: string): Promise<string[]> => {
  const instance = `bench-cp-${suffix}`
  const node = await start(instance)
  const base = node.url
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as Record<string, any>
  }
  const create = async () =>
    String((await call('POST', '/v1/workers', { agent: 'shell', labels: { bench: '1' } })).workerId)
  const del = (id: string) => call('DELETE', `/v1/workers/${id}`)
  const lines: string[] = []
  try {
    await del(await create()) // warm-up
    for (const mb of [0, WORKSPACE_MB]) {
      const creates: number[] = []
      const checkpoints: number[] = []
      const fork1: number[] = []
      const fork4: number[] = []
      const forkFresh: number[] = []
      const sizes: number[] = []
      for (let i = 0; i < ROUNDS; i++) {
        const [c, source] = await time(create)
        creates.push(c)
        await call('POST', `/v1/workers/${source}/commands`, {
          shell: `echo hi > /workspace/a.txt; head -c ${mb * 1024 * 1024} /dev/urandom > /workspace/blob`,
        })
        const [k, cp] = await time(() => call('POST', `/v1/workers/${source}/checkpoints`))
        checkpoints.push(k)
        sizes.push(Number(cp.sizeBytes))
        const made: string[] = []
        const fork = async (body: object) => {
          const out = await call('POST', `/v1/workers/${source}/fork`, body)
          for (const w of out.workers) made.push(w.workerId)
        }
        const [f1] = await time(() => fork({ count: 1, checkpoint: cp.checkpointId }))
        fork1.push(f1)
        const [f4] = await time(() => fork({ count: 4, checkpoint: cp.checkpointId }))
        fork4.push(f4 / 4)
        const [ff] = await time(() => fork({ count: 1 }))
        forkFresh.push(ff)
        for (const id of [...made, source]) await del(id)
      }
      const m = median(creates)
      lines.push(
        `checkpoints and forks — shell worker, workspace ${mb} MB written (${ROUNDS} rounds; image ${(median(sizes) / 2 ** 20).toFixed(0)} MiB with its base)`,
        row('create (pool miss)', creates),
        row('checkpoint', checkpoints),
        row('fork of 1 from a checkpoint', fork1, m),
        row('fork of 4 from a checkpoint, per fork', fork4, m),
        row('fork of 1, checkpoint taken first', forkFresh, m),
      )
    }
  } finally {
    await node.close()
    const left = (
      await run('docker', ['ps', '-aq', '--filter', `label=workers-spawner.instance=${instance}`])
    ).stdout.trim()
    if (left) await run('docker', ['rm', '-f', ...left.split('\n')])
    const images = (
      await run('docker', [
        'images',
        '-q',
        '--filter',
        `label=workers-spawner.checkpoint-instance=${instance}`,
      ])
    ).stdout.trim()
    if (images) await run('docker', ['rmi', '-f', ...new Set(images.split('\n'))])
  }
  return lines
}
