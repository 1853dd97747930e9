import type { DaemonConnection } from './daemon-connection.ts'
import { FRAME, FrameError, MAX_PAYLOAD, parseJson, type Frame } from './frames.ts'

/** The END of a request: `ok` with the result's fields, or an error with its code. */
export type DaemonEnd =
  | ({ ok: true } & Record<string, unknown>)
  | { ok: false; error: { code: string; message: string }; exitCode?: number; [k: string]: unknown }

/** The connection went before the request's END came. */
export class DaemonLostError extends Error {
  constructor(why: string) {
    super(`the worker daemon's connection went: ${why}`)
    this.name = this.constructor.name
  }
}

/** What a request does with the frames that come before its END. */
export interface RequestFrames {
  stdout?(bytes: Buffer): void
  stderr?(bytes: Buffer): void
  event?(event: Record<string, unknown>): void
}

/** Reads an END payload; one that is no END of the protocol closes the connection. */
const readEnd = (payload: Buffer): DaemonEnd => {
  const end = parseJson(payload)
  if (end.ok === true) return end as DaemonEnd
  const error = end.error as { code?: unknown; message?: unknown } | undefined
  if (end.ok !== false || typeof error?.code !== 'string') throw new FrameError('a malformed END')
  const message = typeof error.message === 'string' ? error.message : error.code
  return { ...end, ok: false, error: { code: error.code, message } } as DaemonEnd
}

/**
 * Starts one request on `conn`: sends OPEN, hands STDOUT/STDERR/EVENT frames to `frames`
 * (a frame the request does not take closes the connection) and settles with the END, or
 * rejects with DaemonLostError when the connection goes first. After END the connection is
 * idle again: give it back to its pool.
 */
export const startRequest = (
  conn: DaemonConnection,
  open: Record<string, unknown>,
  frames: RequestFrames = {},
): Promise<DaemonEnd> =>
  new Promise((resolve, reject) => {
    const take = <T>(fn: ((x: T) => void) | undefined, x: T, name: string) => {
      if (!fn) throw new FrameError(`${name} frame out of turn for ${String(open.op)}`)
      fn(x)
    }
    conn.begin(open, {
      onFrame: (frame: Frame) => {
        switch (frame.type) {
          case FRAME.STDOUT:
            return take(frames.stdout, frame.payload, 'STDOUT')
          case FRAME.STDERR:
            return take(frames.stderr, frame.payload, 'STDERR')
          case FRAME.EVENT:
            return take(frames.event, parseJson(frame.payload), 'EVENT')
          case FRAME.END: {
            const end = readEnd(frame.payload)
            conn.finish()
            return resolve(end)
          }
          default:
            throw new FrameError(`frame ${frame.type} out of turn`)
        }
      },
      onClose: (why) => reject(new DaemonLostError(why)),
    })
  })

/** Sends `bytes` as STDIN frames of at most MAX_PAYLOAD, then the empty one (end of input). */
export const sendInput = (conn: DaemonConnection, bytes: Uint8Array): void => {
  for (let at = 0; at < bytes.byteLength; at += MAX_PAYLOAD) {
    conn.sendBytes(FRAME.STDIN, bytes.subarray(at, at + MAX_PAYLOAD))
  }
  conn.sendBytes(FRAME.STDIN, new Uint8Array())
}
