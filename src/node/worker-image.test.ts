import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { EventBus, stampedEmit, type SpawnerEvent } from '../core/events.ts'
import { ImageResolver } from '../core/images.ts'
import { noopLogger } from '../core/logger.ts'
import { ensureWorkerImage } from './worker-image.ts'

const setup = () => {
  const runtime = new MemoryRuntime()
  const bus = new EventBus()
  const events: SpawnerEvent[] = []
  bus.subscribe((e) => events.push(e))
  const images = new ImageResolver(runtime, noopLogger)
  const ensure = (local = true) =>
    ensureWorkerImage({
      runtime,
      images,
      emit: stampedEmit(bus, () => new Date()),
      logger: noopLogger,
      image: 'ws/worker:x',
      env: {},
      local,
    })
  return { runtime, images, events, ensure }
}

describe('the worker image at start', () => {
  it('does nothing when it is there', async () => {
    const { runtime, ensure, images } = setup()
    runtime.images.set('ws/worker:x', 'sha256:x')
    const found = await ensure()
    expect(found.state).toBe('present')
    expect(await found.done).toBe(true)
    expect(await images.resolve('ws/worker:x', [])).toEqual({ tag: 'ws/worker:x', built: false })
  })

  it('without a base image either, builds nothing and refuses creates with what to run, until the image is there', async () => {
    const { runtime, ensure, images } = setup()
    const missing = await ensure()
    expect(missing.state).toBe('missing')
    const refused = images.resolve('ws/worker:x', [])
    await expect(refused).rejects.toMatchObject({ code: 'not_ready' })
    await expect(refused).rejects.toThrow(
      /no base image to build it from .*run: sudo bash images\/bootstrap-base.sh && WORKER_IMAGE=ws\/worker:x BASE_IMAGE=workers-spawner\/base:trixie npm run image:worker/,
    )
    runtime.images.set('ws/worker:x', 'sha256:x')
    expect(await images.resolve('ws/worker:x', [])).toMatchObject({ tag: 'ws/worker:x' })
  })
})
