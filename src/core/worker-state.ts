import { z } from 'zod'
import { utf8Decode, utf8Encode } from './bytes.ts'
import { NotFoundError } from './errors.ts'
import type { ContainerRuntime } from './runtime.ts'

/**
 * What labels cannot hold because they are fixed at container creation: deadlines changed by
 * `update`, the last activity, and a pool container's hand-out. Kept inside the container in
 * a root-only file, so it lives and dies with the worker, survives a spawner restart, and the
 * agent (uid 1000) can neither read nor change it.
 */
export const STATE_FILE = '/etc/workers-spawner.json'

export const workerStateFileSchema = z.object({
  version: z.literal(1),
  /** Start of the TTL clock (a pool container's hand-out time). */
  createdAt: z.string(),
  ttlSeconds: z.number().int().positive(),
  idleSeconds: z.number().int().min(0),
  lastActiveAt: z.string().optional(),
  /** The user's labels and env of a pool container handed out (its labels were set earlier). */
  labels: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  handedOut: z.boolean().optional(),
  allowedTools: z.array(z.string()).optional(),
  maxChildren: z.number().int().optional(),
  maxDepth: z.number().int().optional(),
})
export type WorkerStateFile = z.infer<typeof workerStateFileSchema>

/** Reads the state file; `undefined` when the worker has none (it was never updated). */
export const readWorkerState = async (
  runtime: ContainerRuntime,
  containerId: string,
): Promise<WorkerStateFile | undefined> => {
  let bytes: Uint8Array
  try {
    bytes = await runtime.getFile(containerId, STATE_FILE, { maxBytes: 1024 * 1024 })
  } catch (err) {
    if (err instanceof NotFoundError && !/container/i.test(err.message)) return undefined
    throw err
  }
  return workerStateFileSchema.parse(JSON.parse(utf8Decode(bytes)))
}

export const writeWorkerState = (runtime: ContainerRuntime, containerId: string, state: WorkerStateFile) =>
  runtime.putFile(containerId, STATE_FILE, utf8Encode(JSON.stringify(state)), { mode: 0o600, uid: 0, gid: 0 })
