import { blankCheckpointLabels, type Checkpoints } from './checkpoints.ts'
import { configOf, ownEnv, type Checkpoint } from './checkpoint-images.ts'
import type { WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import type { Creation } from './creation.ts'
import { NotFoundError, SpawnerError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { LABELS } from './labels.ts'
import { ancestorsOf } from './record-turn.ts'
import type { WorkerTree } from './sub-workers.ts'
import type { WorkerFactory } from './worker-factory.ts'
import { newWorkerId, toStatus, type WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

/** What `forkWorker` works with. */
export interface ForkParts {
  ctx: CoreContext
  store: WorkerStore
  factory: WorkerFactory
  tree: WorkerTree
  creation: Creation
  checkpoints: Checkpoints
}

/** One worker a fork made. */
export interface Forked {
  workerId: string
  createdAt: string
  expiresAt: string
  parentId?: string
}

/**
 * The `fork` command: `count` new workers from one checkpoint of a worker (a fresh one when none
 * is named), each with the checkpoint's files and conversation and its own id, token, gateway
 * credential, budget and state file. They are made as `create` makes workers: counted against
 * MAX_WORKERS (all `count` places held first), and a worker caller's forks are its sub-workers,
 * narrowed to it and under its tree's quotas; an operator's forks take the source's parent, so a
 * fork of a sub-worker stays in its tree. All or nothing: when one fails, those made are deleted.
 */
export const forkWorker = async (
  parts: ForkParts,
  input: { workerId: string; count: number; checkpoint?: string | undefined },
  hooks: CommandHooks = {},
): Promise<{ checkpointId: string; turns: number; workers: Forked[] }> => {
  const { store, creation, checkpoints } = parts
  const source = await store.get(input.workerId)
  const checkpoint = input.checkpoint
    ? await checkpoints.find(source.workerId, input.checkpoint)
    : await checkpoints.take(source.workerId, hooks)
  const parentId = hooks.caller ?? source.parentId
  const config = configOf(source)
  return creation.reserve(input.count, async () => {
    const made = await Promise.allSettled(
      Array.from({ length: input.count }, () =>
        forkOne(parts, source, checkpoint, config, parentId, hooks),
      ),
    )
    const failed = made.find((m) => m.status === 'rejected')
    const workers = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []))
    if (failed) {
      for (const w of workers) await undo(parts, w.workerId)
      throw failed.reason
    }
    return { checkpointId: checkpoint.checkpointId, turns: checkpoint.turns, workers }
  })
}

const forkOne = async (
  parts: ForkParts,
  source: WorkerRecord,
  checkpoint: Checkpoint,
  raw: WorkerConfig,
  parentId: string | undefined,
  hooks: CommandHooks,
): Promise<Forked> => {
  const workerId = newWorkerId()
  const start = (parent: WorkerRecord | undefined, config: WorkerConfig) =>
    startFork(parts, source, checkpoint, config, parent, workerId, hooks)
  return parentId === undefined
    ? start(undefined, raw)
    : parts.tree.spawn(parentId, raw, workerId, start)
}

const startFork = async (
  parts: ForkParts,
  source: WorkerRecord,
  checkpoint: Checkpoint,
  config: WorkerConfig,
  parent: WorkerRecord | undefined,
  id: string,
  hooks: CommandHooks,
): Promise<Forked> => {
  const { ctx, factory, store } = parts
  const { resolved, spec, workerId, createdAt, hostFiles } = await factory.check(config, parent, id)
  ctx.emit({ type: 'status', workerId, state: 'creating', reason: 'request' }, hooks.requestId)
  let record: WorkerRecord
  try {
    ;({ record } = await factory.startContainer(
      config,
      resolved,
      workerId,
      createdAt,
      spec,
      {
        [LABELS.forkedFrom]: source.workerId,
        [LABELS.forkCheckpoint]: checkpoint.checkpointId,
        [LABELS.turnsBase]: String(checkpoint.turns),
      },
      hostFiles,
      hooks.onEffect,
      {
        image: checkpoint.image,
        workerImage: source.image,
        labels: blankCheckpointLabels,
        env: ownEnv(source.env),
      },
    ))
  } catch (err) {
    await factory.removeLeftovers(workerId)
    const message = err instanceof SpawnerError ? err.message : 'internal error'
    ctx.emit(
      { type: 'status', workerId, state: 'failed', reason: 'error', message },
      hooks.requestId,
    )
    throw err
  }
  record.turns = { base: checkpoint.turns, promptsAtBase: 0 }
  store.keep(record, resolved.agent)
  await copyTranscript(parts, source, record, checkpoint)
  ctx.logger.info('worker forked', {
    workerId,
    from: source.workerId,
    checkpointId: checkpoint.checkpointId,
  })
  ctx.emit({ type: 'status', workerId, state: 'running', reason: 'request' }, hooks.requestId)
  const status = toStatus(record)
  return {
    workerId,
    createdAt: status.createdAt,
    expiresAt: status.expiresAt,
    ...(record.parentId ? { parentId: record.parentId } : {}),
  }
}

/**
 * The fork's transcript starts as the source's did at the checkpoint. A store that fails costs
 * the fork its earlier turns, not the fork itself: the conversation is in its files.
 */
const copyTranscript = async (
  { ctx, store }: ForkParts,
  source: WorkerRecord,
  fork: WorkerRecord,
  checkpoint: Checkpoint,
) => {
  if (checkpoint.transcriptTurn === 0) return
  try {
    await ctx.transcripts.setOwner(fork.workerId, {
      agent: fork.agent,
      workdir: fork.workdir,
      ancestors: await ancestorsOf(store, fork),
    })
    await ctx.transcripts.copy(source.workerId, fork.workerId, {
      upToTurn: checkpoint.transcriptTurn,
    })
  } catch (err) {
    ctx.logger.warn('transcript not copied to a fork', {
      workerId: fork.workerId,
      from: source.workerId,
      error: String(err),
    })
  }
}

/** Removes a fork made by a fork that failed as a whole. */
const undo = async ({ ctx, store }: ForkParts, workerId: string) => {
  const record = store.held(workerId)
  try {
    if (record) await ctx.runtime.remove(record.containerId)
  } catch (err) {
    if (!(err instanceof NotFoundError))
      ctx.logger.warn('fork not undone', { workerId, error: String(err) })
  }
  store.forget(workerId)
  ctx.emit({ type: 'status', workerId, state: 'deleted', reason: 'error' })
}
