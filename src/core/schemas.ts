import { z } from 'zod'
import { budgetSchema, workerConfigSchema } from './config.ts'
import { spendSchema } from './budget.ts'
import { replySchema } from './plugin/contract.ts'
import { turnSchema } from './transcripts.ts'
import { permissionsViewSchema } from './permission-schemas.ts'

/** Input and output schemas of every command in the catalog. */

export const workerIdSchema = z
  .string()
  .regex(/^w-[a-f0-9]{16}$/, "not a worker id (expected 'w-' and 16 hex digits)")
  .describe('worker id')

const byWorker = z.object({ workerId: workerIdSchema }).strict()

export const workerStateSchema = z.enum([
  'running',
  'paused',
  'exited',
  'failed',
  'creating',
  'deleted',
])
export type WorkerState = z.infer<typeof workerStateSchema>

export const workerStatusSchema = z.object({
  workerId: z.string(),
  state: workerStateSchema,
  agent: z.string(),
  capabilities: z.array(z.string()),
  image: z.string(),
  workdir: z.string(),
  labels: z.record(z.string(), z.string()),
  createdAt: z.string(),
  lastActiveAt: z.string(),
  ttlSeconds: z.number(),
  idleSeconds: z.number(),
  expiresAt: z.string(),
  idleDeadline: z.string().nullable(),
  commandRunning: z.boolean(),
  agentState: z.enum(['idle', 'running']),
  usage: z
    .object({
      prompts: z.number(),
      inputTokens: z.number(),
      outputTokens: z.number(),
      costUsd: z.number(),
    })
    .describe('prompts sent to the agent and the usage its CLI reported, summed'),
  allowedTools: z.array(z.string()),
  parentId: z.string().optional().describe('the worker that spawned it'),
  network: z
    .union([z.enum(['none', 'all']), z.object({ allow: z.array(z.string()) })])
    .describe('what it reaches besides the service (see WorkerConfig.network)'),
  budget: budgetSchema.optional(),
  spend: spendSchema.describe('its model calls, measured at the model gateway'),
  treeSpend: spendSchema.describe('its model calls and those of every sub-worker below it'),
  connections: z
    .object({ allowed: z.number().int(), denied: z.number().int() })
    .describe('connections out through its egress proxy, since the service started'),
  permissions: permissionsViewSchema
    .optional()
    .describe('how its tool calls are approved, and the requests waiting for an answer'),
})
export type WorkerStatus = z.infer<typeof workerStatusSchema>

export const createInput = z.object({ config: workerConfigSchema }).strict()
export const createOutput = z.object({
  workerId: z.string(),
  status: workerStateSchema,
  image: z.string(),
  imageBuilt: z.boolean().describe('true when this create built the derived image'),
  createdAt: z.string(),
  expiresAt: z.string(),
})

const envRecord = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name'),
  z.string(),
)

export const MAX_TIMEOUT_MS = 6 * 60 * 60 * 1000

export const sendCommandInput = z
  .object({
    workerId: workerIdSchema,
    prompt: z.string().min(1).optional().describe("sent to the worker's agent CLI"),
    shell: z.string().min(1).optional().describe('run with /bin/bash -c'),
    argv: z.array(z.string()).min(1).optional().describe('run as is, no shell'),
    timeoutMs: z.number().int().min(1).max(MAX_TIMEOUT_MS).default(600_000),
    sessionId: z.string().min(1).optional().describe('continue this agent conversation'),
    env: envRecord.optional(),
    workdir: z.string().startsWith('/').optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const given = (['prompt', 'shell', 'argv'] as const).filter((k) => v[k] !== undefined)
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: given.length === 0 ? ['prompt'] : [given[1] ?? 'shell'],
        message: `exactly one of prompt, shell or argv is required (got ${given.length === 0 ? 'none' : given.join(', ')})`,
      })
    }
  })
export type SendCommandInput = z.output<typeof sendCommandInput>

export const sendCommandOutput = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  timedOut: z
    .boolean()
    .describe('true when timeoutMs ran out and the command was killed (exitCode 124)'),
  durationMs: z.number(),
  truncated: z
    .boolean()
    .optional()
    .describe('true when output beyond 16 MiB per stream was dropped'),
  reply: replySchema.optional(),
  metered: spendSchema
    .optional()
    .describe(
      "a prompt's model calls as the gateway measured them (none when the worker brings its own endpoint)",
    ),
})
export type SendCommandOutput = z.infer<typeof sendCommandOutput>

export const sendFileInput = z
  .object({
    workerId: workerIdSchema,
    path: z.string().min(1),
    content: z.string(),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    mode: z
      .union([
        z.number().int(),
        z
          .string()
          .regex(/^[0-7]{3,4}$/)
          .transform((s) => parseInt(s, 8)),
      ])
      .pipe(z.number().int().min(0).max(0o7777))
      .optional()
      .describe('file mode, e.g. 420 or "0644"'),
  })
  .strict()
export const sendFileOutput = z.object({ path: z.string(), size: z.number().int() })

export const readFileInput = z
  .object({
    workerId: workerIdSchema,
    path: z.string().min(1),
    encoding: z.enum(['utf8', 'base64']).default('base64'),
  })
  .strict()
export const readFileOutput = z.object({
  path: z.string(),
  size: z.number().int(),
  encoding: z.enum(['utf8', 'base64']),
  content: z.string(),
})

/** How many entries `list_files` returns when the caller names no `limit`. */
export const DEFAULT_LIST_LIMIT = 1000

export const listFilesInput = z
  .object({
    workerId: workerIdSchema,
    path: z.string().min(1).optional().describe("a directory (default: the worker's workdir)"),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(DEFAULT_LIST_LIMIT)
      .describe(`at most this many entries (default ${DEFAULT_LIST_LIMIT})`),
  })
  .strict()
export const listFilesOutput = z.object({
  path: z.string(),
  entries: z.array(
    z.object({
      name: z.string(),
      type: z.enum(['file', 'dir', 'symlink', 'other']),
      size: z.number().int(),
      mtime: z.string(),
      /** Octal permission bits, e.g. `0644`. */
      mode: z.string(),
      /** A link's target, as written. */
      target: z.string().optional(),
      /** What a link points to once resolved. */
      targetType: z.enum(['file', 'dir', 'missing', 'loop', 'other']).optional(),
    }),
  ),
  /** More entries exist than were returned. */
  truncated: z.boolean(),
})

export const statusInput = byWorker
export const statusOutput = workerStatusSchema

/** How many lines `logs` returns when the caller names no `tail`. */
export const DEFAULT_LOG_TAIL = 1000

export const logsInput = z
  .object({
    workerId: workerIdSchema,
    tail: z.coerce
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(DEFAULT_LOG_TAIL)
      .describe(
        `the last N lines (default ${DEFAULT_LOG_TAIL}); with follow=1, the backlog sent first`,
      ),
    since: z.coerce.number().int().min(0).optional().describe('unix seconds'),
  })
  .strict()
export const logLineSchema = z.object({
  stream: z.enum(['stdout', 'stderr']),
  at: z.string(),
  text: z.string(),
})
export const logsOutput = z.object({
  workerId: z.string(),
  lines: z.array(logLineSchema),
  truncated: z
    .boolean()
    .optional()
    .describe(
      'true when reading stopped after 16 MiB of log: the newest lines are missing; ask for a smaller tail',
    ),
})

/** Longest a watch may run when a duration is asked for (a Redis watch always has one). */
export const MAX_WATCH_MS = 60 * 60 * 1000

/** How long a watch that answers once (Redis) runs when the caller names no `durationMs`. */
export const DEFAULT_WATCH_MS = 60_000

/** A boolean as JSON or as a query string's `true`/`false`/`1`/`0`. */
const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
])

export const watchInput = z
  .object({
    workerId: workerIdSchema,
    path: z
      .string()
      .min(1)
      .optional()
      .describe("a directory, under the same roots as read_file (default: the worker's workdir)"),
    recursive: flag.default(true).describe('also every directory below it (default true)'),
    durationMs: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_WATCH_MS)
      .optional()
      .describe(
        `stop after this long (at most ${MAX_WATCH_MS}); a stream runs until the client leaves without it, an answer-once watch (Redis) defaults to ${DEFAULT_WATCH_MS}`,
      ),
  })
  .strict()

/** One change in a watched directory: a `file_changed` item of `watch`. */
export const fileChangeSchema = z.object({
  type: z
    .enum(['created', 'changed', 'deleted', 'overflow'])
    .describe('overflow: changes were lost (too many, or too many directories); list again'),
  path: z.string().optional().describe('absolute path of what changed; absent on overflow'),
  dir: z.boolean().optional().describe('true when what changed is a directory'),
})
export type FileChangeItem = z.infer<typeof fileChangeSchema>

export const watchOutput = z.object({
  workerId: z.string(),
  path: z.string().describe('the directory watched'),
  changes: z.number().int().describe('changes seen'),
  ended: z
    .enum(['duration', 'cancelled', 'worker_gone'])
    .describe('why it ended: durationMs ran out, the caller left, or the worker went away'),
})

export const workerRefInput = byWorker
export const stateOutput = z.object({ workerId: z.string(), state: workerStateSchema })

export const updateInput = z
  .object({
    workerId: workerIdSchema,
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
    idleSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional(),
    budget: budgetSchema
      .nullable()
      .optional()
      .describe('a new model budget (null: none); operators only'),
  })
  .strict()

export const deleteOutput = z.object({
  workerId: z.string(),
  deleted: z.literal(true),
  children: z.array(z.string()).describe('sub-workers deleted with it'),
})

export const respondInput = z
  .object({ workerId: workerIdSchema, text: z.string().min(1).max(1_000_000) })
  .strict()
export const respondOutput = z.object({ workerId: z.string(), published: z.literal(true) })

export const listInput = z
  .object({
    // Bounded like a config's labels: a longer filter matches nothing, and the engine refuses
    // a filter of megabytes (431) instead of answering.
    labels: z.record(z.string().min(1).max(256), z.string().max(1024)).optional(),
  })
  .strict()
export const listOutput = z.object({ workers: z.array(workerStatusSchema) })

export const pluginsInput = z.object({}).strict()

export const poolsInput = z.object({}).strict()
export const poolsOutput = z.object({
  pools: z.array(
    z.object({
      key: z.string().describe('agent[+capability…], as WARM_POOLS names it'),
      agent: z.string(),
      capabilities: z.array(z.string()),
      size: z.number().int().describe('how many started containers it keeps'),
      ready: z.number().int().describe('how many wait now'),
    }),
  ),
})
const pluginPackageSchema = z.object({ name: z.string(), version: z.string() })
export const pluginsOutput = z.object({
  loadedAt: z.string(),
  plugins: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['agent', 'capability']),
      version: z.string(),
      description: z.string(),
      requires: z.array(z.string()),
      secrets: z.array(z.object({ name: z.string(), required: z.boolean() })),
      gateway: z
        .object({ keys: z.array(z.string()), baseUrl: z.string() })
        .optional()
        .describe(
          'the variables of the model API its CLI reaches through the gateway (names, never values)',
        ),
      /** The npm package it was loaded from; absent for a folder plugin. */
      package: pluginPackageSchema.optional(),
    }),
  ),
  errors: z.array(
    z.object({
      plugin: z.string(),
      field: z.string(),
      reason: z.string(),
      package: pluginPackageSchema.optional(),
    }),
  ),
})

/** How many turns `transcript` answers when the caller names no `limit`. */
export const DEFAULT_TRANSCRIPT_LIMIT = 100

export const transcriptInput = z
  .object({
    workerId: workerIdSchema,
    sessionId: z.string().min(1).max(128).optional().describe("only this session's turns"),
    after: z.coerce
      .number()
      .int()
      .min(0)
      .optional()
      .describe('only turns numbered above this (the `next` of the previous page)'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(DEFAULT_TRANSCRIPT_LIMIT)
      .describe(`turns per answer (default ${DEFAULT_TRANSCRIPT_LIMIT})`),
  })
  .strict()
export const transcriptOutput = z.object({
  workerId: z.string(),
  turns: z.array(turnSchema).describe('oldest first'),
  next: z.number().int().optional().describe('more turns follow: ask again with this as `after`'),
})

export const checkpointIdSchema = z
  .string()
  .regex(/^c-[a-f0-9]{16}$/, "not a checkpoint id (expected 'c-' and 16 hex digits)")
  .describe('checkpoint id')

export const checkpointSchema = z.object({
  checkpointId: z.string(),
  workerId: z.string(),
  createdAt: z.string(),
  turns: z.number().int().describe("prompt turns of the worker's conversation when it was taken"),
  auto: z
    .boolean()
    .describe('taken after a prompt (WorkerConfig.checkpoint); retention deletes those'),
  sizeBytes: z.number().describe('size of the image, the base layers included'),
  image: z.string().describe('the image it is (on the worker’s Docker host)'),
})

export const checkpointOutput = checkpointSchema
export const listCheckpointsOutput = z.object({
  workerId: z.string(),
  checkpoints: z.array(checkpointSchema).describe('oldest first'),
})
export const checkpointRefInput = z
  .object({ workerId: workerIdSchema, checkpointId: checkpointIdSchema })
  .strict()
export const deleteCheckpointOutput = z.object({
  workerId: z.string(),
  checkpointId: z.string(),
  deleted: z.literal(true),
})
export const restoreOutput = z.object({
  workerId: z.string(),
  checkpointId: z.string(),
  state: workerStateSchema,
  turns: z.number().int().describe('prompt turns of the conversation it is back at'),
})

/** Most workers one fork makes. */
export const MAX_FORKS = 10

export const forkInput = z
  .object({
    workerId: workerIdSchema,
    count: z.number().int().min(1).max(MAX_FORKS).default(1).describe(`1 to ${MAX_FORKS}`),
    checkpoint: checkpointIdSchema
      .optional()
      .describe('fork from this checkpoint (default: one taken now)'),
  })
  .strict()
export const forkOutput = z.object({
  checkpointId: z.string().describe('the checkpoint the forks started from'),
  turns: z.number().int().describe('prompt turns of the conversation they continue'),
  workers: z.array(
    z.object({
      workerId: z.string(),
      createdAt: z.string(),
      expiresAt: z.string(),
      parentId: z.string().optional(),
    }),
  ),
})

export const buildImageInput = z
  .object({
    agent: z
      .string()
      .min(1)
      .optional()
      .describe('the agent plugin whose image to build; without it, the capabilities alone'),
    capabilities: z.array(z.string().min(1)).max(64).default([]),
  })
  .strict()
export const buildImageOutput = z.object({
  tag: z.string().describe('the image creates with this plugin set run'),
  built: z.boolean().describe('false when the image was already there'),
  durationMs: z.number(),
})
