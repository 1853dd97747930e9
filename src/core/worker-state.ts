import { z } from 'zod'
import type { Mac } from './auth/mac.ts'
import {
  budgetSchema,
  checkpointPolicySchema,
  containerNetworkSchema,
  egressListSchema,
  resourcesSchema,
} from './config.ts'
import { spendSchema } from './budget.ts'
import { utf8Decode, utf8Encode } from './bytes.ts'
import { NotFoundError, UnavailableError } from './errors.ts'
import { permissionStateSchema } from './permission-schemas.ts'
import { canKeepState, type ContainerRuntime } from './runtime.ts'
import type { WorkerRecord } from './worker-record.ts'

/**
 * What labels cannot hold because they are fixed at container creation (deadlines changed by
 * `update`, the last activity, a pool container's hand-out and the config it was handed out
 * with), and what sub-worker rules compare against (resources, mounts, tools). It lives and dies
 * with the worker and survives a spawner restart: kept by the runtime on its host beside the
 * container where it can (`StateKeepingRuntime`: no Engine call), else inside the container in
 * this root-only file. It is signed with the service's key and bound to the worker id: a state
 * the service did not write is refused on restore, whoever wrote it and wherever it is.
 *
 * When both exist, the host's is the worker's state: a service that keeps it on the host writes
 * only there, so a file in the container is an older one (from a service without the capability,
 * or from the checkpoint image the container started from). A runtime that keeps state still
 * reads the file when its host has none, so such workers keep working.
 */
export const STATE_FILE = '/etc/workers-spawner.json'

/** A file every worker image has, read to tell a missing state file from an unreadable one. */
const PROBE_FILE = '/etc/passwd'

const DAYS_30 = 30 * 86_400

/** The largest state read back (a worker's env and permission rules fit well within). */
const MAX_STATE_BYTES = 1024 * 1024

export const workerStateSchema = z
  .object({
    /** Start of the TTL clock (a pool container's hand-out time). */
    createdAt: z.iso.datetime(),
    ttlSeconds: z.number().int().min(1).max(DAYS_30),
    idleSeconds: z.number().int().min(0).max(DAYS_30),
    lastActiveAt: z.iso.datetime(),
    /** The user's labels and env (a pool container's labels were set before its hand-out). */
    labels: z.record(z.string(), z.string()),
    env: z.record(z.string(), z.string()),
    /** False while the container waits in a warm pool. */
    handedOut: z.boolean(),
    allowedTools: z.array(z.string()),
    maxChildren: z.number().int().min(0).max(100),
    maxDepth: z.number().int().min(0).max(10),
    resources: resourcesSchema,
    mounts: z.array(
      z.object({ source: z.string(), target: z.string(), readOnly: z.boolean() }).strict(),
    ),
    spawnablePlugins: z.array(z.string()),
    network: containerNetworkSchema,
    egress: egressListSchema.optional(),
    budget: budgetSchema.optional(),
    spend: spendSchema.optional(),
    spentBelow: spendSchema.optional(),
    checkpoint: checkpointPolicySchema.optional(),
    configEnv: z.record(z.string(), z.string()).optional(),
    /** Its permission rules and the requests waiting for an answer. */
    permissions: permissionStateSchema.optional(),
  })
  .strict()
export type WorkerStateFile = z.infer<typeof workerStateSchema>

/** What a record keeps in its state file. `applyState` is the way back. */
export const stateOf = (r: WorkerRecord): WorkerStateFile => ({
  createdAt: r.createdAt.toISOString(),
  ttlSeconds: r.ttlSeconds,
  idleSeconds: r.idleSeconds,
  lastActiveAt: r.lastActiveAt.toISOString(),
  labels: r.labels,
  env: r.env,
  handedOut: r.pool === undefined,
  allowedTools: r.allowedTools,
  maxChildren: r.maxChildren,
  maxDepth: r.maxDepth,
  spawnablePlugins: r.spawnablePlugins,
  resources: r.resources,
  mounts: r.mounts,
  network: r.network,
  ...(r.egress ? { egress: r.egress } : {}),
  ...(r.budget ? { budget: r.budget } : {}),
  ...(r.spend ? { spend: r.spend } : {}),
  ...(r.spentBelow ? { spentBelow: r.spentBelow } : {}),
  ...(r.checkpoint ? { checkpoint: r.checkpoint } : {}),
  ...(r.configEnv ? { configEnv: r.configEnv } : {}),
  // A copy: the write happens later, and the requests change in place meanwhile.
  ...(r.permissions ? { permissions: structuredClone(r.permissions) } : {}),
})

/** Puts a verified state file's contents into a record rebuilt from labels (see `stateOf`). */
export const applyState = (record: WorkerRecord, state: WorkerStateFile): WorkerRecord => {
  const lastActiveAt = new Date(state.lastActiveAt)
  Object.assign(record, {
    createdAt: new Date(state.createdAt),
    ttlSeconds: state.ttlSeconds,
    idleSeconds: state.idleSeconds,
    lastActiveAt,
    persistedActiveAt: lastActiveAt.getTime(),
    labels: state.labels,
    env: state.env,
    allowedTools: state.allowedTools,
    maxChildren: state.maxChildren,
    maxDepth: state.maxDepth,
    spawnablePlugins: state.spawnablePlugins,
    resources: state.resources,
    mounts: state.mounts,
    network: state.network,
    egress: state.egress,
    budget: state.budget,
    spend: state.spend,
    spentBelow: state.spentBelow,
    permissions: state.permissions,
  } satisfies Partial<WorkerRecord>)
  if (!state.egress) delete record.egress
  if (!state.budget) delete record.budget
  if (!state.spend) delete record.spend
  if (!state.spentBelow) delete record.spentBelow
  if (state.checkpoint) record.checkpoint = state.checkpoint
  else delete record.checkpoint
  if (state.configEnv) record.configEnv = state.configEnv
  if (!state.permissions) delete record.permissions
  if (state.handedOut) delete record.pool
  return record
}

/** The file as written: the state as a JSON string, and its tag. */
const envelopeSchema = z
  .object({ v: z.literal(2), workerId: z.string(), state: z.string(), mac: z.string() })
  .strict()

/** The state file exists but is not one the service wrote for this worker. */
export class StateFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = this.constructor.name
  }
}

const signed = (workerId: string, state: string) => `${workerId}\n${state}`

/**
 * Reads and verifies the state file; `undefined` when the worker has none (its create never
 * finished). Throws StateFileError when the file is unreadable, unsigned, signed for another
 * worker or out of bounds.
 */
export const readWorkerState = async (
  runtime: ContainerRuntime,
  containerId: string,
  workerId: string,
  mac: Mac,
): Promise<WorkerStateFile | undefined> => {
  const kept = canKeepState(runtime)
    ? await runtime.getState(containerId, MAX_STATE_BYTES)
    : undefined
  const bytes = kept ?? (await readStateFile(runtime, containerId))
  return bytes && verified(bytes, workerId, mac)
}

/** The state file in the container; undefined when it has none (see `readWorkerState`). */
const readStateFile = async (
  runtime: ContainerRuntime,
  containerId: string,
): Promise<Uint8Array | undefined> => {
  try {
    return await runtime.getFile(containerId, STATE_FILE, { maxBytes: MAX_STATE_BYTES, uid: 0 })
  } catch (err) {
    if (!(err instanceof NotFoundError) || /container/i.test(err.message)) throw err
    // The engine's archive API also answers "not found" for every path when it cannot set the
    // container's mounts up (a bind mount's host directory was removed): the file is missing
    // only if a file every image has can be read. (Not an exec: that fails on a paused worker.)
    const seen = await runtime
      .getFile(containerId, PROBE_FILE, { maxBytes: 64 * 1024, uid: 0 })
      .then(
        () => true,
        (probeErr: unknown) => !(probeErr instanceof NotFoundError),
      )
    if (seen) return undefined
    throw new UnavailableError(
      `the state file of container ${containerId} cannot be read (${err.message})`,
      'unavailable',
      { cause: err },
    )
  }
}

/** The state in `bytes`, checked (see `readWorkerState`). */
const verified = async (
  bytes: Uint8Array,
  workerId: string,
  mac: Mac,
): Promise<WorkerStateFile> => {
  let envelope: z.infer<typeof envelopeSchema>
  try {
    envelope = envelopeSchema.parse(JSON.parse(utf8Decode(bytes)))
  } catch {
    throw new StateFileError('state file is not a signed worker state')
  }
  if (
    envelope.workerId !== workerId ||
    !(await mac.verify(signed(workerId, envelope.state), envelope.mac))
  ) {
    throw new StateFileError('state file signature does not match this worker')
  }
  const parsed = workerStateSchema.safeParse(JSON.parse(envelope.state))
  if (!parsed.success)
    throw new StateFileError(`state file out of bounds: ${parsed.error.issues[0]?.message}`)
  return parsed.data
}

/**
 * Writes the signed state: on the runtime's host when it keeps state, else into the container's
 * file (root-owned, 0600). Either way the agent can neither read nor change it.
 */
export const writeWorkerState = async (
  runtime: ContainerRuntime,
  containerId: string,
  workerId: string,
  mac: Mac,
  state: WorkerStateFile,
): Promise<void> => {
  const text = JSON.stringify(workerStateSchema.parse(state))
  const envelope = { v: 2, workerId, state: text, mac: await mac.sign(signed(workerId, text)) }
  const bytes = utf8Encode(JSON.stringify(envelope))
  if (canKeepState(runtime)) return runtime.putState(containerId, bytes)
  await runtime.putFile(containerId, STATE_FILE, bytes, {
    mode: 0o600,
    uid: 0,
    gid: 0,
  })
}
