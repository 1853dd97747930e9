import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BadRequestError } from '../../core/errors.ts'
import type { ContainerSpec } from '../../core/runtime.ts'
import type { DockerContext } from '../docker-call.ts'
import { DAEMON_MOUNT, DaemonRouter } from './daemon-router.ts'
import { WorkerDaemons } from './worker-daemons.ts'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const spec = (mounts: ContainerSpec['mounts']): ContainerSpec => ({
  name: 'w-prep',
  image: 'img',
  env: {},
  labels: {},
  user: '1000:1000',
  workdir: '/workspace',
  mounts,
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: [],
  capDrop: [],
  capAdd: [],
  extraHosts: [],
})

describe('DaemonRouter.prepare', () => {
  it('refuses a mount that would show a worker the daemons’ key or other workers’ sockets', async () => {
    const base = mkdtempSync(join(tmpdir(), 'ws-drt-'))
    cleanup.push(() => rmSync(base, { recursive: true, force: true }))
    const dir = join(base, 'home', 'daemons')
    const daemons = await WorkerDaemons.open({ dir })
    cleanup.push(() => daemons.close())
    const router = new DaemonRouter({} as DockerContext, daemons)
    mkdirSync(join(base, 'projects'))
    symlinkSync(dir, join(base, 'projects', 'link'))
    const exposing = [dir, join(dir, 'key'), dirname(dir), base, join(base, 'projects', 'link')]
    for (const source of exposing) {
      const m = { source, target: '/mnt/x', readOnly: true }
      await expect(router.prepare(spec([m])), source).rejects.toThrow(BadRequestError)
    }
    const fine = { source: join(base, 'projects'), target: '/mnt/p', readOnly: true }
    const prepared = await router.prepare(spec([fine]))
    expect(prepared.mounts).toEqual([
      fine,
      { source: daemons.dirOf('w-prep'), target: DAEMON_MOUNT, readOnly: true },
    ])
  })
})
