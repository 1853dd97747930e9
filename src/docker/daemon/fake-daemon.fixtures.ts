import { connect, type Socket } from 'node:net'
import { FRAME, FrameDecoder, encodeFrame, jsonFrame, parseJson, type Frame } from './frames.ts'

/** Test fixtures: a daemon in Node that dials a runtime's socket and speaks the protocol. */

/** One request as the fake daemon sees it, and how it answers. */
export interface FakeRequest {
  open: Record<string, unknown>
  /** Frames that came after OPEN (STDIN, CONTROL). */
  next(): Promise<Frame>
  send(frame: Buffer): void
  stdout(text: string | Uint8Array): void
  stderr(text: string): void
  event(value: unknown): void
  end(value: Record<string, unknown>): void
}

/** A dialed connection of the fake daemon. */
export interface FakeConnection {
  socket: Socket
  /** Resolves with WELCOME's payload, or undefined when the runtime closed instead. */
  welcome: Promise<Record<string, unknown> | undefined>
  /** Resolves once the runtime closed the connection. */
  closed: Promise<void>
}

/**
 * Dials `path`, says HELLO with `secret` (and `v`, default 1) and serves each request with
 * `serve` until the runtime closes the connection.
 */
export const dialFake = (
  path: string,
  hello: { secret: string; v?: number },
  serve: (req: FakeRequest) => Promise<void> | void = () => undefined,
): FakeConnection => {
  const socket = connect(path)
  socket.on('error', () => undefined)
  const decoder = new FrameDecoder()
  const queue: Frame[] = []
  const wanted: ((f: Frame) => void)[] = []
  let welcomed!: (v: Record<string, unknown> | undefined) => void
  const welcome = new Promise<Record<string, unknown> | undefined>((r) => (welcomed = r))
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  void closed.then(() => welcomed(undefined))
  const nextFrame = () =>
    new Promise<Frame>((resolve) => {
      const f = queue.shift()
      if (f) resolve(f)
      else wanted.push(resolve)
    })
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      const w = wanted.shift()
      if (w) w(f)
      else queue.push(f)
    }
  })
  socket.once('connect', () => {
    socket.write(
      jsonFrame(FRAME.HELLO, { v: hello.v ?? 1, secret: hello.secret, pid: 7, version: 'fake 1' }),
    )
  })
  void (async () => {
    const first = await nextFrame()
    if (first.type !== FRAME.WELCOME) return socket.destroy()
    welcomed(parseJson(first.payload))
    for (;;) {
      const open = await nextFrame()
      if (open.type !== FRAME.OPEN) continue
      const send = (frame: Buffer) => void (socket.writable && socket.write(frame))
      await serve({
        open: parseJson(open.payload),
        next: nextFrame,
        send,
        stdout: (t) => send(encodeFrame(FRAME.STDOUT, typeof t === 'string' ? Buffer.from(t) : t)),
        stderr: (t) => send(encodeFrame(FRAME.STDERR, Buffer.from(t))),
        event: (v) => send(jsonFrame(FRAME.EVENT, v)),
        end: (v) => send(jsonFrame(FRAME.END, v)),
      })
    }
  })()
  return { socket, welcome, closed }
}
