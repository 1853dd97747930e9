import { z } from 'zod'
import { egressPatternSchema } from './egress.ts'
import { permissionsSchema } from './permission-policy.ts'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/

/** Prefix of every label the spawner sets; user labels may not use it. */
export const LABEL_PREFIX = 'workers-spawner.'

/** Env names that take effect only when a container starts (see the image's entrypoint). */
export const START_ENV = ['INSTALL_COMMANDS', 'AGENT_COMMAND'] as const

/** An absolute, normalised container path without `..` segments. */
export const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), "must not contain '..'")
  .refine((p) => !p.includes('\0'), 'must not contain NUL')

export const resourcesSchema = z
  .object({
    memoryMb: z.number().int().min(64).max(262_144).default(2048),
    // Docker refuses less than a hundredth of a CPU.
    cpus: z.number().min(0.01).max(256).default(1),
    pids: z.number().int().min(16).max(65_536).default(1024),
  })
  .strict()

/**
 * What a worker's container is attached to: `isolated`, no network (loopback only, the service
 * through the worker API socket and the in-container forwarder); `open`, Docker's default bridge.
 */
export const containerNetworkSchema = z.enum(['isolated', 'open'])
export type ContainerNetwork = z.infer<typeof containerNetworkSchema>

/** Host patterns a worker's connections out may go to (see `egressPatternSchema`). */
export const egressListSchema = z.array(egressPatternSchema).max(256)

/**
 * What a worker reaches besides the service: `'none'` (nothing), `{ allow: [...] }` (the hosts
 * listed, through the service's egress proxy; `[]` denies every connection with a clear message),
 * or `'all'` (Docker's bridge: the internet, the host's gateway, other `all` workers). Unset: the
 * operator's default (EGRESS_DEFAULT). `'isolated'` and `'open'`, the names of earlier versions,
 * mean `'none'` and `'all'`.
 */
export const networkSchema = z
  .union([
    z.enum(['none', 'all']),
    z.enum(['isolated', 'open']).transform((v) => (v === 'isolated' ? 'none' : 'all')),
    z.object({ allow: egressListSchema }).strict(),
  ])
  .describe(
    "'none': no network, only the service (worker API, model gateway); " +
      "{ allow: ['registry.npmjs.org', '*.github.com:443'] }: those hosts through the egress proxy; " +
      "'all': Docker's default bridge (the internet, the host's gateway, other 'all' workers); " +
      "unset: the operator's default (EGRESS_DEFAULT)",
  )
export type Network = z.output<typeof networkSchema>

/**
 * What a worker may spend on model calls, measured at the model gateway; its sub-workers' calls
 * count against it too. A limit left out is no limit.
 */
export const budgetSchema = z
  .object({
    usd: z.number().min(0).max(1_000_000).optional().describe('cost in US dollars'),
    tokens: z.number().int().min(0).max(1e12).optional().describe('input + output tokens'),
  })
  .strict()
export type Budget = z.infer<typeof budgetSchema>

/** The declarative description of one worker. Unknown keys are refused. */
export const workerConfigSchema = z
  .object({
    agent: z.string().min(1).describe("agent plugin name, e.g. 'shell' or 'claude-code'"),
    capabilities: z
      .array(z.string().min(1))
      .default([])
      .refine((c) => new Set(c).size === c.length, 'must not repeat a capability')
      .describe("capability plugin names, e.g. ['git', 'node']"),
    env: z
      .record(z.string().regex(ENV_NAME, 'not an environment variable name'), z.string())
      .default({})
      .describe('extra environment variables'),
    files: z
      .record(
        absolutePath.or(
          z
            .string()
            .regex(/^[^/]/)
            .refine((p) => !p.split('/').includes('..'), "must not contain '..'"),
        ),
        z.string(),
      )
      .default({})
      .describe('files written before the first command; relative paths are under workdir'),
    workdir: absolutePath
      .refine(
        (p) => p.replace(/\/+$/, '') !== '',
        "must not be '/' (file commands may reach everything under it)",
      )
      .default('/workspace'),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(86_400),
    idleSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(900),
    resources: resourcesSchema.default({ memoryMb: 2048, cpus: 1, pids: 1024 }),
    allowedTools: z
      .array(z.string().regex(/^[a-z][a-z0-9_:-]{0,63}$/, 'not a tool name'))
      .default([])
      .describe(
        "what the worker's orchestrator CLI may do: whoami, tools, respond, spawn, send, status, logs, delete, file, …",
      ),
    maxChildren: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(4)
      .describe('sub-workers it may have at once'),
    maxDepth: z.number().int().min(0).max(10).default(1).describe('levels of sub-workers below it'),
    spawnablePlugins: z
      .array(z.string().min(1))
      .default([])
      .describe('plugins its sub-workers may use besides its own agent and capabilities'),
    network: networkSchema.optional(),
    budget: budgetSchema.optional().describe('model spend limits, checked at the gateway'),
    permissions: permissionsSchema.optional(),
    labels: z
      .record(
        z
          .string()
          .regex(LABEL_KEY, 'letters, digits and . _ / - only')
          .refine((k) => !k.startsWith(LABEL_PREFIX), `must not start with '${LABEL_PREFIX}'`),
        z.string().max(1024),
      )
      .default({}),
  })
  .strict()

export type WorkerConfigInput = z.input<typeof workerConfigSchema>
export type WorkerConfig = z.output<typeof workerConfigSchema>
