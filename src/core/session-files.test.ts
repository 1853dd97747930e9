import { describe, expect, it } from 'vitest'
import { bytesToBase64 } from './bytes.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import type { ContainerRuntime, ExecResult } from './runtime.ts'
import { MAX_CONCURRENT_PACKS, packSession } from './session-files.ts'

const agent = { sessions: { paths: ['~/.sums'] } } as unknown as AgentPlugin

describe('packSession', () => {
  it('packs a bounded number of archives at once: each may hold 64 MiB in memory', async () => {
    let running = 0
    let most = 0
    const waiting: (() => void)[] = []
    const runtime = {
      exec: async (): Promise<ExecResult> => {
        running++
        most = Math.max(most, running)
        await new Promise<void>((r) => waiting.push(r))
        running--
        const stdout = bytesToBase64(new Uint8Array([1, 2, 3]))
        return { exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 }
      },
    } as unknown as ContainerRuntime
    const packs = Array.from({ length: 10 }, (_, i) => packSession(runtime, `c${i}`, agent))
    // Each pack lets the next one in when it ends.
    for (let done = 0; done < 10; done++) {
      await expect.poll(() => waiting.length).toBeGreaterThan(0)
      waiting.shift()!()
    }
    const archives = await Promise.all(packs)
    expect(archives.every((a) => a?.length === 3)).toBe(true)
    expect(most).toBeLessThanOrEqual(MAX_CONCURRENT_PACKS)
  })
})
