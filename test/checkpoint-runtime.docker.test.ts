import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointTag } from '../src/core/checkpoint-images.ts'
import { BadRequestError } from '../src/core/errors.ts'
import { CHECKPOINT_LABEL, type ContainerRuntime, type ContainerSpec } from '../src/core/runtime.ts'
import { startTestRuntime, type TestRuntime } from './support/harness.ts'

const IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'
const RUN = randomBytes(4).toString('hex')
const RUN_LABEL = 'workers-spawner.test.run'
const SECRET = `secret-${randomBytes(12).toString('hex')}`
const hex = () => randomBytes(8).toString('hex')

/**
 * The runtime's part of checkpoints, on Docker and (TEST_RUNTIME=remote) through a host agent:
 * commit keeps the files and drops what the caller blanks or redacts, containers run from the
 * image, and only checkpoint images are made or removed.
 */
describe('checkpoint images in the runtime', () => {
  let testRuntime: TestRuntime
  let runtime: ContainerRuntime
  const docker = new Dockerode()

  const spec = (image = IMAGE, env: Record<string, string> = {}): ContainerSpec => ({
    name: `ws-cp-${RUN}-${hex()}`,
    image,
    env,
    labels: { [RUN_LABEL]: RUN, 'workers-spawner.worker-id': 'w-0000000000000001' },
    user: 'worker',
    workdir: '/workspace',
    mounts: [],
    memoryBytes: 256 * 1024 * 1024,
    nanoCpus: 5e8,
    pidsLimit: 128,
    securityOpt: ['no-new-privileges'],
    capDrop: ['ALL'],
    capAdd: [],
    extraHosts: [],
  })
  const sh = async (id: string, line: string) => {
    const r = await runtime.exec(id, { argv: ['sh', '-c', line] })
    expect(r.exitCode, r.stderr).toBe(0)
    return r.stdout
  }

  beforeAll(async () => {
    testRuntime = await startTestRuntime(docker)
    runtime = testRuntime.runtime
  })
  afterAll(async () => {
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${RUN_LABEL}=${RUN}`] },
    }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined)
    for (const i of await docker.listImages({ filters: { label: [`${RUN_LABEL}=${RUN}`] } }))
      await docker
        .getImage(i.Id)
        .remove({ force: true })
        .catch(() => undefined)
    await testRuntime?.close()
  })

  it('commits files, blanks and redacts env, labels the image, runs from it, removes it', async () => {
    const source = await runtime.run(
      spec(IMAGE, { TOKEN: 'tok', CARELESS: `x${SECRET}y`, KEPT: 'kept' }),
    )
    await sh(source, 'echo saved > /workspace/a.txt')
    const tag = checkpointTag('w-0000000000000001', `c-${hex()}`)
    const image = await runtime.commit(source, tag, {
      labels: { [CHECKPOINT_LABEL]: 'c-1', [RUN_LABEL]: RUN, 'workers-spawner.worker-id': '' },
      env: { TOKEN: '' },
      redact: [SECRET],
    })
    expect(image).toMatchObject({ tag, labels: { [CHECKPOINT_LABEL]: 'c-1' } })
    expect(image.sizeBytes).toBeGreaterThan(0)

    const inspected = await docker.getImage(tag).inspect()
    const env = inspected.Config.Env.join('\n')
    expect(env).not.toContain(SECRET)
    expect(env).toMatch(/^TOKEN=$/m)
    expect(env).toMatch(/^CARELESS=$/m)
    expect(env).toMatch(/^KEPT=kept$/m)
    expect(inspected.Config.Labels['workers-spawner.worker-id']).toBe('')

    const listed = await runtime.listImages({ [RUN_LABEL]: RUN })
    expect(listed.map((i) => i.tag)).toEqual([tag])
    expect(await runtime.checkpointImage(tag)).toMatchObject({ tag, id: image.id })
    const absent = checkpointTag('w-0000000000000001', `c-${hex()}`)
    expect(await runtime.checkpointImage(absent)).toBeUndefined()

    const restored = await runtime.run(spec(tag, { TOKEN: 'new' }))
    expect(await sh(restored, 'cat /workspace/a.txt; printf %s "$TOKEN"')).toBe('saved\nnew')
    // The source keeps running: the commit paused it only meanwhile.
    expect((await runtime.inspect(source))?.state).toBe('running')

    const inUse = await runtime.removeImage(tag).catch((err: { code: string }) => err.code)
    expect(inUse).toBe('checkpoint_in_use')
    await runtime.remove(restored)
    await runtime.removeImage(tag)
    expect(await runtime.listImages({ [RUN_LABEL]: RUN })).toEqual([])
    await runtime.removeImage(tag) // absent: no error
  })

  it('commits only to checkpoint names and removes only checkpoint images', async () => {
    const source = await runtime.run(spec())
    const bad = await runtime
      .commit(source, IMAGE, { labels: { [CHECKPOINT_LABEL]: 'c-1' }, env: {} })
      .catch((err: unknown) => err)
    expect(bad).toBeInstanceOf(BadRequestError)
    const notCheckpoint = await runtime.removeImage(IMAGE).catch((err: unknown) => err)
    expect(notCheckpoint).toBeInstanceOf(BadRequestError)
    expect(await runtime.hasImage(IMAGE)).toBe(true)
    const unlabelled = await runtime
      .commit(source, checkpointTag('w-0000000000000001', `c-${hex()}`), {
        labels: {},
        env: {},
      })
      .catch((err: unknown) => err)
    expect(unlabelled).toBeInstanceOf(BadRequestError)
  })
})
