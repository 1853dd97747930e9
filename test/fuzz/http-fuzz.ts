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
export const fuzzHttp = async (target: FuzzTarget, opts: FuzzOptions, tally = new Tally()): Promise<Tally> => {
  const crashes = watchCrashes()
  try {
    await runProperty(
      'HTTP fuzz',
      httpCase(target.hints, (name, input) => target.constrain(name, input)),
      async (c) => {
        tally.add(await runHttpCase(c, target))
        await crashes.check(`after ${c.method} ${c.path}`)
      },
      opts,
    )
  } finally {
    crashes.stop()
  }
  return tally
}
