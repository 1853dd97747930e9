import { describe, expect, it } from 'vitest'
import { StdoutDemux } from './docker-pipe.ts'

/** One frame of the Engine's multiplexed stream. */
const frame = (stream: 1 | 2, payload: Buffer) => {
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

describe('StdoutDemux', () => {
  it('passes stdout on byte for byte, across frames split anywhere, and keeps stderr apart', async () => {
    const binary = Buffer.from(Array.from({ length: 600 }, (_, i) => i % 256))
    const wire = Buffer.concat([
      frame(1, binary.subarray(0, 300)),
      frame(2, Buffer.from('warn: é\n')),
      frame(1, binary.subarray(300)),
    ])
    const demux = new StdoutDemux()
    const out: Buffer[] = []
    demux.on('data', (d: Buffer) => out.push(d))
    const ended = new Promise((resolve) => demux.on('end', resolve))
    // Split inside a header and inside a payload.
    for (const cut of [
      [0, 3],
      [3, 200],
      [200, 311],
      [311, wire.length],
    ])
      demux.write(wire.subarray(cut[0], cut[1]))
    demux.end()
    await ended
    expect(Buffer.concat(out).equals(binary)).toBe(true)
    expect(demux.stderr).toBe('warn: é\n')
  })
})
