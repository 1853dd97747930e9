import { SpawnerError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'
import type { Terminal, TerminalRequest } from '../core/runtime.ts'
import { TERMINAL_CLOSE, closeReason, type TerminalClientFrame } from './terminal-frames.ts'

/** Limits on terminals (TERMINAL_IDLE_SECONDS, TERMINAL_MAX_PER_WORKER, TERMINAL_MAX). */
export interface TerminalLimits {
  /** A terminal with no input and no output this long is closed. */
  idleMs: number
  /** Terminals open at once into one worker. */
  maxPerWorker: number
  /** Terminals open at once on this instance. */
  max: number
}

export const DEFAULT_TERMINAL_LIMITS: TerminalLimits = {
  idleMs: 15 * 60_000,
  maxPerWorker: 8,
  max: 64,
}

/** The client's end of a terminal, as the session sees it (a WebSocket). */
export interface TerminalPeer {
  /** Sends raw PTY output (a binary frame); `sent` is called once it has left this process. */
  output(chunk: Uint8Array, sent: () => void): void
  /** Sends the JSON `exit` frame. */
  exit(code: number): void
  close(code: number, reason: string): void
}

/** What a session needs to open its shell once it is allowed to. */
export interface TerminalOpening {
  workerId: string
  /** Opens the shell (resuming the worker first when it sleeps); output goes to `onOutput`. */
  open(onOutput: TerminalRequest['onOutput']): Promise<Terminal>
  /** Input or output went through: the worker is in use. */
  onActivity(): void
}

/** Output a slow client may leave unsent before the PTY is no longer read (then resumed at a quarter). */
const HIGH_WATER_BYTES = 1024 * 1024

/** One client's terminal: what it typed goes to the shell, the shell's output to it. */
export interface TerminalSession {
  /** A frame from the client. */
  receive(frame: TerminalClientFrame): void
  /** The client went away: the shell is killed. */
  gone(): void
  /** Settles once the shell has ended and the peer has been closed. */
  readonly done: Promise<void>
}

/**
 * The terminals of this instance: counts them per worker and in all (a slot is taken before
 * anything opens, so concurrent opens cannot pass a cap), closes idle ones, and kills a
 * shell whose client has gone.
 */
export class TerminalSessions {
  private readonly open = new Map<string, number>()
  private total = 0
  private readonly live = new Set<TerminalSession & { shutdown(): void }>()

  constructor(
    readonly limits: TerminalLimits,
    private readonly logger: Logger,
  ) {}

  /** Terminals open into `workerId` now. */
  count(workerId: string): number {
    return this.open.get(workerId) ?? 0
  }

  /**
   * Starts a session for `peer`: a cap reached closes it at once (4429 `too_many_terminals`);
   * otherwise the shell opens, and frames received meanwhile wait for it.
   */
  start(opening: TerminalOpening, peer: TerminalPeer): TerminalSession {
    const { workerId } = opening
    const refusal = this.refusal(workerId)
    if (refusal) {
      closeWithError(peer, refusal)
      return { receive: () => {}, gone: () => {}, done: Promise.resolve() }
    }
    this.open.set(workerId, this.count(workerId) + 1)
    this.total++
    const session = this.run(opening, peer)
    this.live.add(session)
    void session.done.finally(() => {
      this.live.delete(session)
      this.total--
      const left = this.count(workerId) - 1
      if (left > 0) this.open.set(workerId, left)
      else this.open.delete(workerId)
    })
    return session
  }

  /** Closes every terminal (1001) and kills its shell; resolves once all have ended. */
  async close(): Promise<void> {
    const all = [...this.live]
    for (const s of all) s.shutdown()
    await Promise.all(all.map((s) => s.done))
  }

  private refusal(workerId: string): SpawnerError | undefined {
    const { maxPerWorker, max } = this.limits
    if (this.count(workerId) >= maxPerWorker) {
      return new SpawnerError(
        'too_many_terminals',
        `worker '${workerId}' has ${maxPerWorker} terminals open (TERMINAL_MAX_PER_WORKER)`,
      )
    }
    if (this.total >= max) {
      return new SpawnerError(
        'too_many_terminals',
        `this instance has ${max} terminals open (TERMINAL_MAX)`,
      )
    }
    return undefined
  }

  private run(
    opening: TerminalOpening,
    peer: TerminalPeer,
  ): TerminalSession & { shutdown(): void } {
    const { workerId } = opening
    const { idleMs } = this.limits
    let terminal: Terminal | undefined
    let pending: TerminalClientFrame[] = []
    // Why the server ends the session, when it does: the close that follows the exit frame.
    let ending: { code: number; reason: string } | undefined
    let clientGone = false
    let finished = false
    let lastActive = Date.now()
    let lastTouched = 0
    let unsent = 0
    let paused = false
    let idleTimer: ReturnType<typeof setTimeout> | undefined

    const active = () => {
      lastActive = Date.now()
      // The worker's idle deadline is counted in seconds: once a second is often enough.
      if (lastActive - lastTouched < 1000) return
      lastTouched = lastActive
      opening.onActivity()
    }
    const end = (code: number, reason: string) => {
      ending ??= { code, reason }
      void terminal?.kill()
    }
    // One timer, re-armed when it fires early: activity costs a clock read, not a timer.
    const armIdle = () => {
      idleTimer = setTimeout(
        () => {
          const left = lastActive + idleMs - Date.now()
          if (left > 0) return armIdle()
          this.logger.info('terminal idle: closed', { workerId, idleMs })
          end(TERMINAL_CLOSE.idle, `idle for ${Math.round(idleMs / 1000)} s`)
        },
        Math.max(0, lastActive + idleMs - Date.now()),
      )
    }
    // A resize is a call to the runtime: input after it waits for it, so what is typed next
    // (`stty size`, a full-screen program) sees the new size.
    let resizing: Promise<void> | undefined
    const apply = (t: Terminal, frame: TerminalClientFrame) => {
      if (frame.type === 'input') {
        active()
        if (resizing) void resizing.then(() => t.write(frame.data))
        else t.write(frame.data)
        return
      }
      const next = (resizing ?? Promise.resolve())
        .then(() => t.resize(frame.cols, frame.rows))
        .catch(() => undefined)
      resizing = next
      void next.finally(() => {
        if (resizing === next) resizing = undefined
      })
    }
    const onOutput = (chunk: Uint8Array) => {
      active()
      if (clientGone) return
      unsent += chunk.byteLength
      if (!paused && unsent > HIGH_WATER_BYTES) {
        paused = true
        terminal?.pause()
      }
      peer.output(chunk, () => {
        unsent -= chunk.byteLength
        if (paused && unsent < HIGH_WATER_BYTES / 4) {
          paused = false
          terminal?.resume()
        }
      })
    }

    const done = (async () => {
      try {
        terminal = await opening.open(onOutput)
      } catch (err) {
        this.logger.info('terminal not opened', { workerId, error: String(err) })
        if (!clientGone) closeWithError(peer, err)
        return
      }
      this.logger.info('terminal opened', { workerId })
      armIdle()
      for (const frame of pending) apply(terminal, frame)
      pending = []
      if (clientGone || ending) void terminal.kill()
      const code = await terminal.exited
      finished = true
      clearTimeout(idleTimer)
      this.logger.info('terminal closed', {
        workerId,
        exitCode: code,
        by: clientGone ? 'client' : ending ? ending.reason : 'shell',
      })
      if (clientGone) return
      peer.exit(code)
      peer.close(ending?.code ?? TERMINAL_CLOSE.exited, ending?.reason ?? 'shell exited')
    })()

    return {
      receive(frame) {
        if (clientGone || ending) return
        if (terminal) apply(terminal, frame)
        else pending.push(frame)
      },
      gone() {
        if (clientGone || finished) return
        clientGone = true
        void terminal?.kill()
      },
      shutdown: () => end(TERMINAL_CLOSE.goingAway, 'the service is shutting down'),
      done,
    }
  }
}

/** Closes with 4000 + the refusal's HTTP status and `<code>: <message>` (1011 for a bug). */
export const closeWithError = (peer: TerminalPeer, err: unknown) => {
  if (err instanceof SpawnerError) {
    peer.close(4000 + httpStatusOf(err), closeReason(`${err.code}: ${err.message}`))
  } else {
    peer.close(TERMINAL_CLOSE.internal, 'internal: the terminal could not be opened')
  }
}
