import { describe, expect, it } from 'vitest'
import { fuzzHttp } from '../../test/fuzz/http-fuzz.ts'
import { fuzzOptions } from '../../test/fuzz/property.ts'
import { memoryTarget } from '../../test/fuzz/target.ts'

// The short run: `npm run fuzz` runs the same suite longer (FUZZ_RUNS), and FUZZ_SEED/FUZZ_PATH
// from a failure replay it here too.
describe('HTTP fuzz over the in-memory runtime', () => {
  it('answers every generated request below 500, every refusal as the error JSON', async () => {
    const target = await memoryTarget()
    const tally = await fuzzHttp(target, fuzzOptions(600))
    console.info(`HTTP fuzz (memory runtime): ${tally.total} requests\n${tally}`)
    // The generator reaches both sides: successes and refusals of several kinds.
    const keys = [...tally.counts.keys()]
    expect(keys.some((k) => k.startsWith('200'))).toBe(true)
    expect(keys.filter((k) => /^4\d\d [a-z_]+$/.test(k)).length).toBeGreaterThan(5)
  }, 120_000)
})
