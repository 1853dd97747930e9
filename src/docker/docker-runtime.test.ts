import type Dockerode from 'dockerode'
import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../core/errors.ts'
import type { ContainerSpec } from '../core/runtime.ts'
import { DockerRuntime } from './docker-runtime.ts'

const spec: ContainerSpec = {
  name: 'workers-spawner-w-1',
  image: 'img',
  env: {},
  labels: {},
  user: '1000:1000',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 1,
  nanoCpus: 1,
  pidsLimit: 16,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
  network: 'isolated',
  workerApi: 'http://core:8080',
}

describe('DockerRuntime without worker API sockets', () => {
  it('refuses an isolated container that needs the worker API, before asking the engine', async () => {
    // The refusal comes before any engine call: an engine that is asked anything fails the test.
    const runtime = new DockerRuntime({ docker: {} as Dockerode, target: 'nowhere' })
    const err = await runtime.run(spec).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadRequestError)
    expect(err).toMatchObject({
      code: 'network_unavailable',
      details: [{ path: 'network' }],
      message: expect.stringMatching(/network 'isolated'.*network 'open'/),
    })
  })
})
