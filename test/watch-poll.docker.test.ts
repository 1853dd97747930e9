import Dockerode from 'dockerode'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { noopLogger } from '../src/core/logger.ts'
import type { FileChange } from '../src/core/runtime.ts'
import type { DockerContext } from '../src/docker/docker-call.ts'
import { DEFAULT_POLL_LIMITS, pollWatch } from '../src/docker/watch-poll.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const run = promisify(execFile)

/**
 * The polling fallback of `watch` (`pollWatch`) in a worker-like container, against an agent
 * that kills its loop and plants links: what it guarantees whichever way the service watches
 * (see watch.docker.test.ts) does not show these.
 */
describe('watching by polling', () => {
  const docker = new Dockerode()
  const ctx: DockerContext = { docker, logger: noopLogger, target: 'local' }
  const label = { 'test-run': randomBytes(4).toString('hex') }

  afterAll(async () => {
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`test-run=${label['test-run']}`] },
    })
    for (const c of mine)
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {})
  })

  const worker = async (): Promise<string> => {
    const container = await docker.createContainer({
      Image: WORKER_IMAGE,
      Entrypoint: ['/usr/bin/sleep', 'infinity'],
      User: 'worker',
      Labels: label,
      HostConfig: { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
    })
    await container.start()
    return container.id
  }
  const asAgent = async (id: string, line: string) =>
    (await run('docker', ['exec', '-u', '1000', id, '/bin/sh', '-c', line])).stdout

  /** A running watch, its changes, and a wait for one. */
  const watch = (id: string, path: string, roots = ['/tmp'], limits = DEFAULT_POLL_LIMITS) => {
    const abort = new AbortController()
    const seen: FileChange[] = []
    const waiters = new Set<() => void>()
    const done = pollWatch(
      ctx,
      id,
      {
        path,
        roots,
        signal: abort.signal,
        onChange: (c) => {
          seen.push(c)
          waiters.forEach((w) => w())
        },
      },
      limits,
    )
    const over = done.then(
      () => undefined,
      () => undefined,
    )
    void over.then(() => waiters.forEach((w) => w()))
    let ended = false
    void over.then(() => (ended = true))
    const until = (match: (c: FileChange) => boolean) =>
      new Promise<FileChange>((resolve, reject) => {
        const check = () => {
          const hit = seen.find(match)
          if (hit) resolve(hit)
          else if (ended) reject(new Error(`the watch ended; seen: ${JSON.stringify(seen)}`))
          else return
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    /** Makes probe files until one is seen: the watch has its first snapshot. */
    const live = async () => {
      const probe = `${path}/.probe-${randomBytes(3).toString('hex')}-`
      for (let i = 0; !seen.some((c) => c.path?.startsWith(probe)); i++) {
        if (ended) throw new Error('the watch ended')
        if (i === 1000) throw new Error('no probe file was ever reported')
        await asAgent(id, `touch ${probe}${i}`)
      }
    }
    return { seen, until, live, done, abort: () => abort.abort() }
  }
  const loops = async (id: string) =>
    (await asAgent(id, 'ps -eo args')).split('\n').filter((l) => l.includes('ws-watch'))

  it('leaves nothing running in the container once aborted', async () => {
    const id = await worker()
    const w = watch(id, '/tmp')
    await w.live()
    expect((await loops(id)).length).toBeGreaterThan(0)
    w.abort()
    await w.done
    // The loop sees its stdin end at its next pause, at most an interval later.
    while ((await loops(id)).length > 0) await asAgent(id, 'true')
  })

  it('goes on, losing nothing, when the agent kills its loop', async () => {
    const id = await worker()
    const w = watch(id, '/tmp')
    await w.live()
    await asAgent(id, "pkill -f 'ws-watc[h]'; printf a > /tmp/after-kill")
    await w.until((c) => c.type === 'created' && c.path === '/tmp/after-kill')
    w.abort()
    await w.done
  })

  it('gives up after its restart budget, with an error', async () => {
    const id = await worker()
    const w = watch(id, '/tmp', ['/tmp'], { ...DEFAULT_POLL_LIMITS, maxRestarts: 1 })
    await w.live()
    // Each kill waits for the loop to be back, so the two kills hit two loops.
    await asAgent(id, "pkill -f 'ws-watc[h]'")
    while ((await loops(id)).length === 0) await asAgent(id, 'true')
    await asAgent(id, "pkill -f 'ws-watc[h]'")
    await expect(w.done).rejects.toMatchObject({ kind: 'unavailable' })
  })

  it('refuses a link out of the roots, and walks no link it finds inside', async () => {
    const id = await worker()
    await asAgent(id, 'ln -s /etc /tmp/etc-link && mkdir /tmp/w && ln -s /etc /tmp/w/out')
    const out = watch(id, '/tmp/etc-link')
    await expect(out.done).rejects.toMatchObject({ code: 'path_not_allowed' })
    const w = watch(id, '/tmp/w')
    await w.live()
    expect(w.seen.some((c) => c.path?.startsWith('/tmp/w/out/'))).toBe(false)
    w.abort()
    await w.done
  })

  it('ends when the container goes', async () => {
    const id = await worker()
    const w = watch(id, '/tmp')
    await w.live()
    await docker.getContainer(id).remove({ force: true })
    await expect(w.done).resolves.toBeUndefined()
  })

  it('says overflow once past its entry cap, then reports again when the tree is small', async () => {
    const id = await worker()
    await asAgent(id, 'mkdir /tmp/big')
    const w = watch(id, '/tmp/big', ['/tmp'], { ...DEFAULT_POLL_LIMITS, maxEntries: 50 })
    await w.live()
    await asAgent(id, 'cd /tmp/big && seq 1 100 | xargs touch')
    await w.until((c) => c.type === 'overflow')
    await asAgent(id, 'cd /tmp/big && rm -f $(seq 1 100) .probe-* && touch small')
    await w.until((c) => c.type === 'created' && c.path === '/tmp/big/small')
    expect(w.seen.filter((c) => c.type === 'overflow')).toHaveLength(1)
    w.abort()
    await w.done
  })
})
