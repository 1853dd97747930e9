import { z } from 'zod'
import { CHECKPOINT_LABEL, CHECKPOINT_TAG } from '../core/runtime.ts'

/** What the agent accepts of each request; anything else is a 400 naming the field. */

const record = z.record(z.string(), z.string())
const count = z.number().int().min(0)

/** `ContainerSpec` (src/core/runtime.ts) as JSON. */
export const containerSpecSchema = z.strictObject({
  name: z.string().min(1),
  image: z.string().min(1),
  env: record,
  labels: record,
  user: z.string(),
  workdir: z.string(),
  mounts: z.array(
    z.strictObject({ source: z.string().min(1), target: z.string().min(1), readOnly: z.boolean() }),
  ),
  memoryBytes: count,
  nanoCpus: count,
  pidsLimit: z.number().int(),
  securityOpt: z.array(z.string()),
  capDrop: z.array(z.string()),
  capAdd: z.array(z.string()),
  runtime: z.string().min(1).optional(),
  shmSizeBytes: count.optional(),
  extraHosts: z.array(z.string()),
  network: z.enum(['isolated', 'open']).optional(),
  workerApi: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .optional(),
})

/** Body of an exec (see `ExecBody` in wire.ts). */
export const execBodySchema = z.strictObject({
  argv: z.array(z.string()).min(1),
  env: record.optional(),
  workdir: z.string().min(1).optional(),
  stdin: z.string().optional(),
  timeoutMs: count.optional(),
  maxOutputBytes: z.number().int().positive().optional(),
  execId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/, '8 to 64 letters, digits, _ or -')
    .optional(),
})

/** An absolute container path, as bounded as the daemon bounds it. */
const containerPath = z
  .string()
  .min(1)
  .max(4096)
  .startsWith('/', 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'must not contain NUL')

/** Body of a watch (see `WatchBody` in wire.ts). */
export const watchBodySchema = z.strictObject({
  path: containerPath,
  recursive: z.boolean().optional(),
  roots: z.array(containerPath).min(1).max(64).optional(),
})

/** Body of an image build (see `BuildBody` in wire.ts). */
export const buildBodySchema = z.strictObject({
  tag: z.string().min(1),
  dockerfile: z.string().min(1),
  files: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        content: z.string(),
        mode: z.number().int().min(0).max(0o7777).optional(),
      }),
    )
    .optional(),
  labels: record.optional(),
})

const int = (min: number) => z.coerce.number().int().min(min)

/** `uid`, `gid` and `roots` of a files query (see `FileAccess` in core/runtime.ts). */
const fileAccess = {
  uid: int(0).optional(),
  gid: int(0).optional(),
  roots: z.array(z.string().regex(/^\//, 'an absolute path')).min(1).optional(),
}

/**
 * Query of `PUT …/files`: mode in octal (`644`), uid and gid in decimal, `roots` repeated.
 * Parse `filesQuery(c)`, which keeps every `roots`.
 */
export const putFileQuerySchema = z.object({
  path: z.string().min(1),
  mode: z
    .string()
    .regex(/^[0-7]{1,4}$/, 'octal, e.g. 644')
    .transform((m) => parseInt(m, 8))
    .optional(),
  ...fileAccess,
})

/** Query of `GET …/files`, like the PUT's without `mode`. */
export const getFileQuerySchema = z.object({
  path: z.string().min(1),
  maxBytes: int(0).optional(),
  ...fileAccess,
})

/** Query of `GET …/logs`. */
export const logsQuerySchema = z.object({
  tail: int(0).optional(),
  since: int(0).optional(),
  maxBytes: int(1).optional(),
  follow: z.enum(['0', '1']).optional(),
})

/** A checkpoint image name: only the names the service gives checkpoints, never any image. */
export const checkpointTagSchema = z
  .string()
  .regex(CHECKPOINT_TAG, 'not a checkpoint image name (workers-spawner-checkpoint:<worker>-<id>)')

/** Body of a commit (see `CommitBody` in wire.ts). */
export const commitBodySchema = z.strictObject({
  tag: checkpointTagSchema,
  labels: record.refine((l) => !!l[CHECKPOINT_LABEL], `must hold ${CHECKPOINT_LABEL}`),
  env: record,
  redact: z.array(z.string().min(8)).max(64).optional(),
})
