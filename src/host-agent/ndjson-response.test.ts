import { describe, expect, it } from 'vitest'
import type { Logger } from '../core/logger.ts'
import { ndjsonResponse } from './ndjson-response.ts'

const KiB = 1024

describe('ndjsonResponse', () => {
  it('stops the work and ends with an error once the client leaves too much unread', async () => {
    const warnings: string[] = []
    const logger: Logger = {
      debug() {},
      info() {},
      error() {},
      warn: (msg) => void warnings.push(msg),
    }
    const chunk = 'z'.repeat(16 * KiB)
    let emitted = 0
    let stopped!: () => void
    const workStopped = new Promise<void>((resolve) => (stopped = resolve))
    const res = await ndjsonResponse(
      new AbortController().signal,
      async (emit, signal) => {
        // Output for as long as nobody stops it, as a follow of a busy log would.
        while (!signal.aborted && emitted < 64 * 1024 * KiB) {
          emit({ stream: 'stdout', data: chunk })
          emitted += chunk.length
          await new Promise((resolve) => setImmediate(resolve))
        }
        stopped()
        return null
      },
      { maxQueuedBytes: 256 * KiB, logger },
    )
    // Nothing reads the body until the work has stopped on its own account.
    await workStopped
    const text = await res.text()
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(emitted).toBeLessThanOrEqual(256 * KiB + 2 * chunk.length)
    expect(lines.at(-1)).toMatchObject({ status: 503, error: { code: 'client_too_slow' } })
    expect(lines.filter((l) => 'result' in l)).toEqual([])
    expect(warnings).toEqual(['stream dropped: the client fell behind'])
  })
})
