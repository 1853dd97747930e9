import type { Socket } from 'node:net'
import {
  FRAME,
  FrameDecoder,
  FrameError,
  encodeFrame,
  jsonFrame,
  type Frame,
  type FrameType,
} from './frames.ts'

/** What a request does with the frames of its connection (see `DaemonConnection.begin`). */
export interface RequestHandler {
  /** A frame from the daemon; throwing FrameError closes the connection. */
  onFrame(frame: Frame): void
  /** The connection closed before the request ended; `why` says how. */
  onClose(why: string): void
}

/**
 * One authenticated connection from a worker's daemon: it carries one request at a time.
 * Between requests it is idle, and any frame the daemon sends then is out of turn and closes
 * it. Made by `ContainerDaemon` once the daemon's HELLO checked out.
 */
export class DaemonConnection {
  #handler: RequestHandler | undefined
  #closed = false
  /** Frames read so far (a request that sees none for long may face a frozen daemon). */
  framesIn = 0
  readonly #onGone: (conn: DaemonConnection) => void

  constructor(
    readonly socket: Socket,
    decoder: FrameDecoder,
    onGone: (conn: DaemonConnection) => void,
    /** The daemon's pid in its container, as its HELLO said. */
    readonly pid?: number,
  ) {
    this.#onGone = onGone
    socket.on('data', (chunk: Buffer) => {
      // Nothing may come while idle: bytes then are not buffered towards a frame (up to 1 MiB
      // per connection) but close it at once.
      if (!this.#handler) return this.close('bytes while idle')
      let frames: Frame[]
      try {
        frames = decoder.push(chunk)
      } catch (err) {
        return this.close(err instanceof Error ? err.message : 'bad frame')
      }
      for (const frame of frames) {
        if (this.#closed) return
        this.framesIn++
        const handler = this.#handler
        if (!handler) return this.close(`frame ${frame.type} while idle`)
        try {
          handler.onFrame(frame)
        } catch (err) {
          return this.close(err instanceof FrameError ? err.message : `handler failed: ${err}`)
        }
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => this.close('closed by the daemon'))
  }

  /** Whether the connection still works. */
  get alive(): boolean {
    return !this.#closed && !this.socket.destroyed && this.socket.writable
  }

  /** Whether a request holds it. */
  get busy(): boolean {
    return this.#handler !== undefined
  }

  /** Sends OPEN with `request`; frames go to `handler` until `finish`. */
  begin(request: Record<string, unknown>, handler: RequestHandler): void {
    if (this.#handler) throw new Error('the connection already carries a request')
    this.#handler = handler
    this.send(jsonFrame(FRAME.OPEN, request))
  }

  /** Ends the request: the connection is idle again (or closed, when it was not clean). */
  finish(): void {
    this.#handler = undefined
  }

  /** Sends a frame; a closed connection drops it. Returns false when the socket is full. */
  send(frame: Buffer): boolean {
    if (!this.alive) return true
    return this.socket.write(frame)
  }

  /** Sends a frame of `type` with raw bytes. */
  sendBytes(type: FrameType, bytes: Uint8Array): boolean {
    return this.send(encodeFrame(type, bytes))
  }

  /** Closes it for good; the request it carries (if any) hears `why`. */
  close(why: string): void {
    if (this.#closed) return
    this.#closed = true
    this.socket.destroy()
    const handler = this.#handler
    this.#handler = undefined
    handler?.onClose(why)
    this.#onGone(this)
  }
}
