import { TokenSigner } from '../../src/core/auth/jwt.ts'
import { WorkerKeys } from '../../src/core/gateway-access.ts'
import { defineAgent } from '../../src/core/plugin/contract.ts'
import type { WorkerServiceOptions } from '../../src/core/service.ts'
import type { MemoryRuntime } from './memory-runtime.ts'
import { memoryService, registryOf, shellAgent, TEST_SECRET } from './memory-service.ts'

/** The spawner's real model key: it must never be seen inside a worker. */
export const REAL_KEY = 'real-secret'

/** Where the worker API is reached over TCP (the `'all'` network's gateway URL starts here). */
export const TOKENS_URL = 'http://spawner.test:8080'

/**
 * An agent whose model API goes through the gateway. Its hooks hand everything they are shown
 * of the spawner's environment to the worker (env and a config file), as a careless plugin might.
 */
export const modeledAgent = (extra: object = {}) =>
  defineAgent({
    apiVersion: 'v1',
    name: 'modeled',
    version: '1.0.0',
    description: 'an agent with a model API',
    gateway: { keys: ['K1', 'K2'], baseUrl: 'B', upstream: 'https://up.example' },
    env: (ctx) => ({ SEEN_BY_PLUGIN: JSON.stringify(ctx.hostEnv) }),
    files: (ctx) => ({
      '~/.modeled/config.json': { key: ctx.setting('K2'), url: ctx.setting('B'), all: ctx.hostEnv },
    }),
    prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
    parse: (r) => {
      if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}`)
      return { text: r.stdout, raw: null }
    },
    ...extra,
  })

/**
 * A memory service whose spawner holds a model key (`K2`) and an endpoint (`B`) for the
 * `modeled` agent; `credentialOf` mints the credential a worker gets.
 */
export const gatewayService = (
  opts: Partial<WorkerServiceOptions> & { runtime?: MemoryRuntime } = {},
) => {
  const registry = registryOf(shellAgent, modeledAgent())
  const svc = memoryService({
    plugins: () => registry,
    hostEnv: { K2: REAL_KEY, B: 'https://operator-models.example/api', OTHER: 'kept' },
    tokens: { signer: new TokenSigner('a test secret that is long enough!!'), url: TOKENS_URL },
    ...opts,
  })
  const keys = new WorkerKeys(TEST_SECRET)
  const credentialOf = (workerId: string) => keys.mint(workerId)
  const specOf = async (workerId: string) => svc.runtime.specs.get(await svc.containerOf(workerId))!
  /** Every file written into a worker's container, as text. */
  const filesOf = async (workerId: string) => {
    const id = await svc.containerOf(workerId)
    return [...svc.runtime.files]
      .filter(([k]) => k.startsWith(`${id}:`))
      .map(([k, v]) => [k.slice(id.length + 1), new TextDecoder().decode(v)] as const)
  }
  return { ...svc, credentialOf, specOf, filesOf }
}
