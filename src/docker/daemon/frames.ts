/**
 * The frames of the worker daemon's protocol (docs/daemon-protocol.md): a u32 big-endian
 * length (type byte plus payload), a type byte, the payload. Both directions use them.
 */

/** Frame types, as numbered by the protocol. */
export const FRAME = {
  HELLO: 1,
  WELCOME: 2,
  OPEN: 3,
  STDIN: 4,
  STDOUT: 5,
  STDERR: 6,
  CONTROL: 7,
  END: 8,
  EVENT: 9,
} as const

export type FrameType = (typeof FRAME)[keyof typeof FRAME]

/** Largest payload of one frame. */
export const MAX_PAYLOAD = 1024 * 1024

const HEADER = 5
const KNOWN = new Set<number>(Object.values(FRAME))

/** One decoded frame; `payload` may share memory with the bytes it was read from. */
export interface Frame {
  type: FrameType
  payload: Buffer
}

/** A frame the protocol does not allow: the connection that sent it is closed. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message)
    this.name = this.constructor.name
  }
}

/** Encodes one frame. */
export const encodeFrame = (type: FrameType, payload: Uint8Array = new Uint8Array()): Buffer => {
  if (payload.byteLength > MAX_PAYLOAD) throw new FrameError('payload over 1 MiB')
  const out = Buffer.allocUnsafe(HEADER + payload.byteLength)
  out.writeUInt32BE(payload.byteLength + 1, 0)
  out.writeUInt8(type, 4)
  out.set(payload, HEADER)
  return out
}

/** Encodes a frame whose payload is `value` as JSON. */
export const jsonFrame = (type: FrameType, value: unknown): Buffer =>
  encodeFrame(type, Buffer.from(JSON.stringify(value), 'utf8'))

/**
 * Reads a JSON object payload; throws FrameError when it is no JSON object (the protocol
 * closes the connection then).
 */
export const parseJson = (payload: Buffer): Record<string, unknown> => {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new FrameError('a JSON payload that does not parse')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('a JSON payload that is not an object')
  }
  return value as Record<string, unknown>
}

/**
 * Cuts a byte stream into frames. Bounded: a length past MAX_PAYLOAD + 1 (or 0) or an unknown
 * type throws FrameError as soon as its header is in, so at most one frame is ever buffered.
 *
 * @example
 * const decoder = new FrameDecoder()
 * socket.on('data', (chunk) => { for (const f of decoder.push(chunk)) handle(f) })
 */
export class FrameDecoder {
  #chunks: Buffer[] = []
  #have = 0

  /** Adds bytes; returns the frames now complete, in order. */
  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk)
    this.#have += chunk.length
    const frames: Frame[] = []
    while (this.#have >= HEADER) {
      const head = this.#peek(HEADER)
      const length = head.readUInt32BE(0)
      const type = head.readUInt8(4)
      if (length < 1 || length > MAX_PAYLOAD + 1) throw new FrameError(`frame length ${length}`)
      if (!KNOWN.has(type)) throw new FrameError(`unknown frame type ${type}`)
      if (this.#have < 4 + length) break
      const whole = this.#take(4 + length)
      frames.push({ type: type as FrameType, payload: whole.subarray(HEADER) })
    }
    return frames
  }

  /** The first `n` buffered bytes, joined only when they span chunks. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!
    if (first.length >= n) return first
    const joined = Buffer.concat(this.#chunks)
    this.#chunks = [joined]
    return joined
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Buffer {
    const first = this.#peek(n)
    this.#have -= n
    if (first.length === n) this.#chunks.shift()
    else this.#chunks[0] = first.subarray(n)
    return first.subarray(0, n)
  }
}
