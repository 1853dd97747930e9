import { describe, expect, it } from 'vitest'
import { FRAME, FrameDecoder, FrameError, MAX_PAYLOAD, encodeFrame, jsonFrame } from './frames.ts'

const header = (length: number, type: number) => {
  const b = Buffer.alloc(5)
  b.writeUInt32BE(length, 0)
  b.writeUInt8(type, 4)
  return b
}

describe('FrameDecoder', () => {
  it('reads frames split anywhere, in order', () => {
    const bytes = Buffer.concat([
      jsonFrame(FRAME.HELLO, { v: 1 }),
      encodeFrame(FRAME.STDOUT, Buffer.from('héllo')),
      encodeFrame(FRAME.STDIN),
      encodeFrame(FRAME.STDOUT, Buffer.alloc(MAX_PAYLOAD, 7)),
    ])
    for (const step of [1, 3, 4096, bytes.length]) {
      const decoder = new FrameDecoder()
      const frames = []
      for (let at = 0; at < bytes.length; at += step) {
        frames.push(...decoder.push(bytes.subarray(at, at + step)))
      }
      expect(frames.map((f) => f.type)).toEqual([
        FRAME.HELLO,
        FRAME.STDOUT,
        FRAME.STDIN,
        FRAME.STDOUT,
      ])
      expect(frames[1]!.payload.toString()).toBe('héllo')
      expect(frames[2]!.payload.length).toBe(0)
      expect(frames[3]!.payload.length).toBe(MAX_PAYLOAD)
    }
  })

  it('refuses a length past 1 MiB + 1 as soon as the header is in', () => {
    const decoder = new FrameDecoder()
    expect(decoder.push(header(MAX_PAYLOAD + 1, FRAME.STDOUT))).toEqual([])
    expect(() => new FrameDecoder().push(header(MAX_PAYLOAD + 2, FRAME.STDOUT))).toThrow(FrameError)
    expect(() => new FrameDecoder().push(header(0xffffffff, FRAME.STDOUT))).toThrow(FrameError)
    expect(() => new FrameDecoder().push(header(0, FRAME.STDOUT))).toThrow(FrameError)
  })

  it('refuses an unknown type', () => {
    expect(() => new FrameDecoder().push(header(1, 0))).toThrow(/unknown frame type 0/)
    expect(() => new FrameDecoder().push(header(1, 10))).toThrow(/unknown frame type 10/)
  })

  it('never encodes a payload past 1 MiB', () => {
    expect(() => encodeFrame(FRAME.STDIN, Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(FrameError)
  })
})
