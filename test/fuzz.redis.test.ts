import { describe, expect, it } from 'vitest'
import { fuzzOptions } from './fuzz/property.ts'
import { fuzzRedis } from './fuzz/redis-fuzz.ts'
import { memoryTarget } from './fuzz/target.ts'

// The short run: `npm run fuzz` runs it longer (FUZZ_RUNS batches); FUZZ_SEED/FUZZ_PATH replay.
describe('Redis fuzz over the in-memory runtime', () => {
  it('answers every entry once, refusals as the error JSON below 500, and keeps reading', async () => {
    const target = await memoryTarget()
    const tally = await fuzzRedis(target, fuzzOptions(60))
    console.info(`Redis fuzz (memory runtime): ${tally.total} entries\n${tally}`)
    expect(tally.counts.get('ok')).toBeGreaterThan(0)
    expect(tally.counts.get('400 bad_request')).toBeGreaterThan(0)
  })
})
