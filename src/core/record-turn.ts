import type { CoreContext } from './context.ts'
import type { AgentPlugin, Reply } from './plugin/contract.ts'
import type { AgentUpdate } from './plugin/updates.ts'
import { packSession } from './session-files.ts'
import { MAX_TURN_UPDATES, isSessionId, type Turn } from './transcripts.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

/** A prompt's agent updates, kept for its turn up to `MAX_TURN_UPDATES` (the rest counted). */
export class TurnUpdates {
  readonly kept: AgentUpdate[] = []
  dropped = 0

  push(update: AgentUpdate) {
    if (this.kept.length < MAX_TURN_UPDATES) this.kept.push(update)
    else this.dropped++
  }
}

/** What one prompt turn was: the prompt, its updates, and its reply or why there was none. */
export interface TurnOutcome {
  prompt: string
  /** The session the prompt continued, if it named one. */
  sessionId?: string
  updates: TurnUpdates
  reply?: Reply
  error?: string
}

/**
 * Keeps a prompt turn in the worker's transcript, after saving its CLI's session files (keyed by
 * the session the turn ended in). Never throws: a failed save is logged and written into the
 * turn, a failed append only logged, since the prompt's answer must not depend on either.
 */
export const recordTurn = async (
  ctx: CoreContext,
  store: WorkerStore,
  record: WorkerRecord,
  agent: AgentPlugin,
  outcome: TurnOutcome,
): Promise<void> => {
  const { workerId } = record
  const sessionId = outcome.reply?.sessionId ?? outcome.sessionId
  const warn = (msg: string, err: unknown) =>
    ctx.logger.warn(msg, { workerId, error: err instanceof Error ? err.message : String(err) })
  let session: Turn['session']
  if (sessionId && agent.sessions) {
    try {
      if (!isSessionId(sessionId))
        throw new Error(`'${sessionId.slice(0, 64)}' is not a session id`)
      const started = ctx.now().getTime()
      const archive = await packSession(ctx.runtime, record.containerId, agent)
      if (archive) {
        await ctx.transcripts.saveSession(workerId, sessionId, archive)
        session = { saved: true, bytes: archive.length }
        const durationMs = ctx.now().getTime() - started
        ctx.logger.info('session saved', { workerId, sessionId, bytes: archive.length, durationMs })
      } else session = { saved: false, error: 'no session files found' }
    } catch (err) {
      warn('session files not saved', err)
      session = { saved: false, error: err instanceof Error ? err.message : String(err) }
    }
  }
  const { reply, error, updates } = outcome
  try {
    await ctx.transcripts.setOwner(workerId, {
      agent: agent.name,
      workdir: record.workdir,
      ancestors: await ancestorsOf(store, record),
    })
    await ctx.transcripts.appendTurn(workerId, {
      at: ctx.now().toISOString(),
      ...(sessionId ? { sessionId } : {}),
      prompt: outcome.prompt,
      ...(reply
        ? { reply: { text: reply.text, ...(reply.usage ? { usage: reply.usage } : {}) } }
        : {}),
      updates: updates.kept,
      ...(updates.dropped ? { updatesDropped: updates.dropped } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(session ? { session } : {}),
    })
  } catch (err) {
    warn('turn not kept in the transcript', err)
  }
}

/** The worker's parent, the parent's parent, …, as far as they are known. */
export const ancestorsOf = async (store: WorkerStore, record: WorkerRecord): Promise<string[]> => {
  const chain: string[] = []
  let parentId = record.parentId
  while (parentId && chain.length < 32 && !chain.includes(parentId)) {
    chain.push(parentId)
    parentId = (await store.get(parentId).catch(() => undefined))?.parentId
  }
  return chain
}
