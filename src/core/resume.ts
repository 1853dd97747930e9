import type { WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, ForbiddenError, NotFoundError } from './errors.ts'
import { unpackSession } from './session-files.ts'
import type { WorkerRecord } from './worker-record.ts'

/** A resume checked: the archive to restore and the turn the transcript is copied up to. */
export interface CheckedResume {
  fromWorker: string
  sessionId: string
  archive: Uint8Array
  upToTurn?: number
}

/**
 * Checks a config's `resume` before anything is created: the saved transcript and session
 * exist (404 naming the field), a worker caller (`by`) resumes only its own or its sub-workers'
 * sessions (their ancestry as recorded while they ran, so a deleted one counts too), and the
 * new worker runs the same agent in the same workdir (a CLI finds its session by both).
 */
export const checkResume = async (
  ctx: CoreContext,
  config: WorkerConfig,
  by: string | undefined,
  isWithin: (workerId: string, ancestorId: string) => Promise<boolean>,
): Promise<CheckedResume | undefined> => {
  const resume = config.resume
  if (!resume) return undefined
  const { fromWorker, sessionId } = resume
  const owner = await ctx.transcripts.owner(fromWorker)
  if (!owner)
    throw new NotFoundError(
      `resume.fromWorker: no saved transcript of worker '${fromWorker}'`,
      'transcript_not_found',
      { details: [{ path: 'resume.fromWorker', message: 'no saved transcript' }] },
    )
  if (by !== undefined && !(await isWithin(fromWorker, by))) {
    throw new ForbiddenError(
      `resume.fromWorker: worker '${by}' may resume only its own sessions and its sub-workers', not '${fromWorker}''s`,
      'not_your_worker',
    )
  }
  const mismatch = (path: string, saved: string, wanted: string) =>
    new BadRequestError(
      `${path}: the saved session ran with ${path} '${saved}', this worker's is '${wanted}'`,
      [{ path, message: `must be '${saved}' to resume this session` }],
      'resume_mismatch',
    )
  if (owner.agent !== config.agent) throw mismatch('agent', owner.agent, config.agent)
  if (owner.workdir !== config.workdir) throw mismatch('workdir', owner.workdir, config.workdir)
  const archive = await ctx.transcripts.loadSession(fromWorker, sessionId)
  if (!archive)
    throw new NotFoundError(
      `resume.sessionId: no saved session '${sessionId}' of worker '${fromWorker}'`,
      'session_not_found',
      { details: [{ path: 'resume.sessionId', message: 'no saved session' }] },
    )
  const turns = await ctx.transcripts.turns(fromWorker, { sessionId })
  const last = turns.at(-1)?.n
  return { fromWorker, sessionId, archive, ...(last !== undefined ? { upToTurn: last } : {}) }
}

/**
 * Puts a checked session into a new worker: its CLI's files into the worker's home (unpacked in
 * the worker, as its user), and the transcript up to that session's last turn.
 */
export const restoreSession = async (
  ctx: CoreContext,
  record: WorkerRecord,
  checked: CheckedResume,
  ancestors: string[],
) => {
  await unpackSession(ctx.runtime, record.containerId, checked.archive)
  await ctx.transcripts.setOwner(record.workerId, {
    agent: record.agent,
    workdir: record.workdir,
    ancestors,
  })
  await ctx.transcripts.copy(checked.fromWorker, record.workerId, {
    ...(checked.upToTurn !== undefined ? { upToTurn: checked.upToTurn } : {}),
  })
}
