import { z } from 'zod'
import { BadRequestError } from './errors.ts'
import { agentUpdateSchema } from './plugin/updates.ts'
import { usageSchema } from './plugin/schema.ts'

/**
 * Transcripts that outlive their worker: each prompt turn in the normalized form, and the agent
 * CLI's own session files, kept outside the container by a `SessionStore`. Everything stored here
 * came from the agent (its output, its session files), so it is data to hand back, never to act
 * on: archives are opaque bytes the host never unpacks, and every size is capped.
 */

/** Worker ids as the service makes them; nothing else names a transcript. */
const WORKER_ID = /^w-[a-f0-9]{16}$/
/** Session ids as the CLIs make them (UUIDs, `ses_…`); the agent chooses them, so they are checked. */
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Largest session archive kept (64 MiB); a bigger one is not saved and the turn says so. */
export const MAX_SESSION_ARCHIVE_BYTES = 64 * 1024 * 1024
/** Updates kept per turn; later ones are counted in `updatesDropped`. */
export const MAX_TURN_UPDATES = 2000
/** Largest turn kept, as JSON (8 MiB): past it the updates are dropped (counted), then the text cut. */
export const MAX_TURN_BYTES = 8 * 1024 * 1024

/** One prompt turn of a worker, as the transcript keeps it. */
export const turnSchema = z.object({
  n: z.number().int().min(1).describe('1, 2, … in the order the turns ended'),
  at: z.string().describe('when the turn ended (ISO 8601)'),
  sessionId: z.string().optional().describe("the agent's session after the turn"),
  prompt: z.string(),
  reply: z.object({ text: z.string(), usage: usageSchema.optional() }).optional(),
  updates: z.array(agentUpdateSchema).describe("the run's agent events, in order"),
  updatesDropped: z
    .number()
    .int()
    .optional()
    .describe(`updates left out past ${MAX_TURN_UPDATES} per turn or ${MAX_TURN_BYTES} bytes`),
  error: z.string().optional().describe('why the turn gave no reply'),
  session: z
    .object({
      saved: z.boolean(),
      bytes: z.number().int().optional(),
      error: z.string().optional(),
    })
    .optional()
    .describe("whether the CLI's session files were saved after the turn, and if not why"),
  from: z.string().optional().describe('the worker the turn was copied from (resume, fork)'),
})
export type Turn = z.infer<typeof turnSchema>

/** A turn before the store numbers it. */
export type NewTurn = Omit<Turn, 'n'>

/** What a store knows of the worker a transcript belongs to, kept after the worker is gone. */
export interface TranscriptOwner {
  agent: string
  workdir: string
  /** Its parent, the parent's parent, …: who may still read it once it is deleted. */
  ancestors: string[]
}

/**
 * Where transcripts and session archives live. A directory on the host by default
 * (`src/node/transcript-dir.ts`), in memory where there is none; another backend implements
 * this. Methods refuse ids that are not a worker's or a session's (see `assertWorkerId`).
 */
export interface SessionStore {
  /** Appends a turn, numbered after the worker's last one; returns it as stored. */
  appendTurn(workerId: string, turn: NewTurn): Promise<Turn>
  /** The worker's turns, oldest first (only one session's with `sessionId`); [] when none. */
  turns(workerId: string, opts?: { sessionId?: string }): Promise<Turn[]>
  /** Keeps the archive of the CLI's session files after a turn of `sessionId`. */
  saveSession(workerId: string, sessionId: string, archive: Uint8Array): Promise<void>
  /** The archive saved last for `sessionId`, or undefined. */
  loadSession(workerId: string, sessionId: string): Promise<Uint8Array | undefined>
  /** Records whose transcript it is (written again at each turn). */
  setOwner(workerId: string, owner: TranscriptOwner): Promise<void>
  /** Whose transcript it is, or undefined when the store holds nothing of `workerId`. */
  owner(workerId: string): Promise<TranscriptOwner | undefined>
  /**
   * Copies `fromWorker`'s turns (up to turn `upToTurn`, of one session with `sessionId`) and its
   * session archives to `toWorker`, whose turns then continue after them.
   */
  copy(
    fromWorker: string,
    toWorker: string,
    opts?: { upToTurn?: number; sessionId?: string },
  ): Promise<void>
  /** Removes every transcript not written to since the retention period before `now`. */
  prune(now: Date): Promise<void>
}

/** Refuses what is not a worker id (it names a directory). */
export const assertWorkerId = (workerId: string, field = 'workerId') => {
  if (!WORKER_ID.test(workerId))
    throw new BadRequestError(`${field}: not a worker id`, [
      { path: field, message: 'not a worker id' },
    ])
}

/** Refuses a session id that could not be a file name (the agent chooses it). */
export const assertSessionId = (sessionId: string, field = 'sessionId') => {
  if (!SESSION_ID.test(sessionId))
    throw new BadRequestError(`${field}: not a session id (letters, digits, . _ -; up to 128)`, [
      { path: field, message: 'not a session id' },
    ])
}

/** True when `sessionId` can be stored (see `assertSessionId`). */
export const isSessionId = (sessionId: string) => SESSION_ID.test(sessionId)

/**
 * A turn cut to the caps: updates past `MAX_TURN_UPDATES` are dropped, then, while its JSON is
 * over `MAX_TURN_BYTES`, all of them, then the prompt and reply text are cut to fit.
 */
export const capTurn = <T extends NewTurn>(turn: T): T => {
  let out = turn
  const dropped = (n: number) => (out.updatesDropped ?? 0) + n
  if (out.updates.length > MAX_TURN_UPDATES) {
    const extra = out.updates.length - MAX_TURN_UPDATES
    out = {
      ...out,
      updates: out.updates.slice(0, MAX_TURN_UPDATES),
      updatesDropped: dropped(extra),
    }
  }
  const size = () => new TextEncoder().encode(JSON.stringify(out)).length
  if (size() <= MAX_TURN_BYTES) return out
  out = { ...out, updates: [], updatesDropped: dropped(out.updates.length) }
  if (size() <= MAX_TURN_BYTES) return out
  // Four bytes per character at worst: three such strings stay well under the cap.
  const half = Math.floor(MAX_TURN_BYTES / 16)
  const cut = (s: string) => (s.length > half ? `${s.slice(0, half)}… [cut]` : s)
  return {
    ...out,
    prompt: cut(out.prompt),
    ...(out.reply ? { reply: { ...out.reply, text: cut(out.reply.text) } } : {}),
    ...(out.error ? { error: cut(out.error) } : {}),
  }
}
