import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dockerTarget } from './fuzz/docker-target.ts'
import { fuzzHttp } from './fuzz/http-fuzz.ts'
import { fuzzOptions } from './fuzz/property.ts'

// Fewer runs than over the memory runtime: here every create starts a real container.
describe('HTTP fuzz over the real Docker Engine', () => {
  let target: Awaited<ReturnType<typeof dockerTarget>>
  beforeAll(async () => {
    target = await dockerTarget()
  })
  afterAll(async () => {
    await target?.cleanup()
  })

  it("answers every generated request below 500, Docker's own refusals included", async () => {
    const tally = await fuzzHttp(target, fuzzOptions(300))
    console.info(`HTTP fuzz (Docker): ${tally.total} requests\n${tally}`)
    expect([...tally.counts.keys()].some((k) => k.startsWith('200'))).toBe(true)
  }, 300_000)
})
