import fc from 'fast-check'
import { httpCase } from './http-cases.ts'
import { runHttpCase } from './http-run.ts'
import { Tally, watchCrashes } from './invariants.ts'
import { runProperty, type FuzzOptions } from './property.ts'
import type { FuzzTarget } from './target.ts'

/**
 * Fuzzes the HTTP API of `target`: requests generated from the catalog's schemas, then mutated
 * (see http-cases.ts). Fails on a 5xx, a refusal that is not the error JSON, a success that does
 * not fit its output schema, a hang, or an unhandled rejection. Returns answers by status and code.
 */
export const fuzzHttp = async (
  target: FuzzTarget,
  opts: FuzzOptions,
  tally = new Tally(),
): Promise<Tally> => {
  const crashes = watchCrashes()
  try {
    // Mostly one request at a time; now and then a few at once, for races between them.
    const one = httpCase(target.hints, (name, input) => target.constrain(name, input))
    const cases = fc.oneof(
      { weight: 4, arbitrary: one.map((c) => [c]) },
      { weight: 1, arbitrary: fc.array(one, { minLength: 2, maxLength: 4 }) },
    )
    await runProperty(
      'HTTP fuzz',
      cases,
      async (batch) => {
        for (const key of await Promise.all(batch.map((c) => runHttpCase(c, target))))
          tally.add(key)
        await crashes.check(`after ${batch.map((c) => `${c.method} ${c.path}`).join(', ')}`)
      },
      opts,
    )
  } finally {
    crashes.stop()
  }
  return tally
}
