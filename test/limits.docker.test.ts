import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ContainerRuntime, ContainerSpec } from '../src/core/runtime.ts'
import { DEFAULT_LOG_TAIL } from '../src/core/schemas.ts'
import {
  api,
  startHarness,
  startTestRuntime,
  type Harness,
  type TestRuntime,
} from './support/harness.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

// Limits that keep a worker from filling the host's memory or disk through its output.

const RUN = randomBytes(4).toString('hex')
const LABELS = { 'workers-spawner.test': '1', 'workers-spawner.test.run': RUN }
const docker = new Dockerode()
const KiB = 1024

const spec = (): ContainerSpec => ({
  name: `ws-limits-${RUN}-${randomBytes(3).toString('hex')}`,
  image: WORKER_IMAGE,
  env: {},
  labels: LABELS,
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 256 * 1024 * 1024,
  nanoCpus: 1e9,
  pidsLimit: 256,
  securityOpt: ['no-new-privileges'],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
})

/** Writes `count` numbered lines of about 1 KiB to the container's log, then `END`. */
const flood = (count: number) =>
  `i=1; while [ $i -le ${count} ]; do printf 'line-%d %01000d\\n' $i 0; i=$((i+1)); done > /proc/1/fd/1; ` +
  'echo END > /proc/1/fd/1'

/** Resolves once `END` is the container's last log line: the engine has written everything. */
const logged = async (runtime: ContainerRuntime, id: string) => {
  // The engine copies output to the log asynchronously; its last line is the state waited on.
  for (;;) {
    const { lines } = await runtime.logs(id, { tail: 1 })
    if (lines.at(-1)?.text === 'END') return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const run = async (runtime: ContainerRuntime, line: string, id: string) => {
  const result = await runtime.exec(id, { argv: ['sh', '-c', line] })
  expect(result.exitCode, result.stderr).toBe(0)
}

const cleanup = async () => {
  const mine = await docker.listContainers({
    all: true,
    filters: { label: [`workers-spawner.test.run=${RUN}`] },
  })
  await Promise.all(
    mine.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
}

describe('container logs', () => {
  const rotation = { maxSize: '64k', maxFiles: 2 }
  let plain: TestRuntime
  let small: TestRuntime

  beforeAll(async () => {
    plain = await startTestRuntime(docker)
    small = await startTestRuntime(docker, undefined, { logRotation: rotation })
  })
  afterAll(async () => {
    await cleanup()
    await plain?.close()
    await small?.close()
  })

  it('are rotated by default: json-file, 10m × 3', async () => {
    const id = await plain.runtime.run(spec())
    const info = await docker.getContainer(id).inspect()
    expect(info.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '10m', 'max-file': '3' },
    })
  })

  it('stay under max-size × max-file on the host however much a worker prints', async () => {
    const id = await small.runtime.run(spec())
    const info = await docker.getContainer(id).inspect()
    expect(info.HostConfig.LogConfig?.Config).toEqual({ 'max-size': '64k', 'max-file': '2' })
    // About 4 MiB through the container's own stdout, as a background process would write it.
    await run(small.runtime, flood(4000), id)
    await logged(small.runtime, id)
    const dir = dirname(info.LogPath)
    const names = (await readdir(dir)).filter((n) => n.startsWith(basename(info.LogPath)))
    const sizes = await Promise.all(names.map(async (n) => (await stat(join(dir, n))).size))
    expect(names.length).toBeGreaterThan(0)
    expect(names.length).toBeLessThanOrEqual(rotation.maxFiles)
    // A file is rotated once it reaches max-size, so it may pass it by one message.
    for (const size of sizes) expect(size).toBeLessThanOrEqual(64 * KiB + 2 * KiB)
  })

  it('are read up to maxBytes, in whole lines, then marked truncated', async () => {
    const id = await plain.runtime.run(spec())
    await run(plain.runtime, flood(100), id)
    await logged(plain.runtime, id)
    const all = await plain.runtime.logs(id)
    expect(all.truncated).toBeUndefined()
    expect(all.lines.at(-1)?.text).toBe('END')
    const cut = await plain.runtime.logs(id, { maxBytes: 10 * KiB })
    expect(cut.truncated).toBe(true)
    expect(cut.lines.length).toBeGreaterThan(0)
    expect(cut.lines.length).toBeLessThan(all.lines.length)
    // What was read, as the engine sent it: a timestamp, a space, the text, a newline.
    const read = cut.lines.map((l) => `${l.at} ${l.text}\n`).join('')
    expect(Buffer.byteLength(read)).toBeLessThanOrEqual(10 * KiB)
    expect(cut.lines).toEqual(all.lines.slice(0, cut.lines.length))
  })
})

describe('logs over HTTP', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it(`returns the last ${DEFAULT_LOG_TAIL} lines when no tail is given`, async () => {
    const http = api(h.app)
    const created = await http.post('/v1/workers', { agent: 'shell', labels: h.runLabel })
    expect(created.status, created.text).toBe(201)
    const id = created.json.workerId as string
    const { containerId } = await h.service.get(id)
    await run(h.runtime, flood(DEFAULT_LOG_TAIL + 200), containerId)
    await logged(h.runtime, containerId)
    const res = await http.get(`/v1/workers/${id}/logs`)
    expect(res.status, res.text).toBe(200)
    const texts = (res.json.lines as { text: string }[]).map((l) => l.text)
    expect(texts).toHaveLength(DEFAULT_LOG_TAIL)
    expect(texts.at(-1)).toBe('END')
    expect(texts[0]).toMatch(/^line-202 /)
    expect(res.json.truncated).toBeUndefined()
  })
})
