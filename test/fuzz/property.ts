import fc from 'fast-check'

/** How many cases to run, and which: a seed and path from a failure replay it exactly. */
export interface FuzzOptions {
  runs: number
  seed?: number
  path?: string
  /** Shrink a failing case to a smaller one (on by default; off for hangs, which shrink slowly). */
  shrink: boolean
}

/** FUZZ_RUNS, FUZZ_SEED, FUZZ_PATH and FUZZ_SHRINK=0 from the environment. */
export const fuzzOptions = (
  defaultRuns: number,
  env: NodeJS.ProcessEnv = process.env,
): FuzzOptions => ({
  runs: env.FUZZ_RUNS ? Number(env.FUZZ_RUNS) : defaultRuns,
  ...(env.FUZZ_SEED ? { seed: Number(env.FUZZ_SEED) } : {}),
  ...(env.FUZZ_PATH ? { path: env.FUZZ_PATH } : {}),
  shrink: env.FUZZ_SHRINK !== '0',
})

/** Strings of a counterexample longer than this are shown cut (a 3 MiB body helps nobody). */
const SHOWN = 400

const clip = (value: unknown, depth = 0): unknown => {
  if (typeof value === 'string')
    return value.length > SHOWN ? `${value.slice(0, SHOWN)}…(${value.length} chars)` : value
  if (value instanceof Uint8Array)
    return value.length > SHOWN ? `Uint8Array(${value.length})` : value
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => clip(v, depth + 1))
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clip(v, depth + 1)]))
}

/**
 * Runs `check` over `runs` values of `arb`. A failure throws one error that says how to replay
 * it (`FUZZ_SEED=… FUZZ_PATH=…`), the smallest failing value found, and what broke.
 */
export const runProperty = async <T>(
  name: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  opts: FuzzOptions,
): Promise<void> => {
  const details = await fc.check(fc.asyncProperty(arb, check), {
    numRuns: opts.runs,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.path !== undefined ? { path: opts.path } : {}),
    endOnFailure: !opts.shrink,
  })
  if (!details.failed) return
  const error = details.errorInstance
  const message = error instanceof Error ? error.message : String(error)
  throw new Error(
    `${name}: failed after ${details.numRuns} runs (${details.numShrinks} shrinks)\n` +
      `replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} FUZZ_RUNS=${opts.runs}\n` +
      `${message}\n` +
      `counterexample: ${fc.stringify(clip(details.counterexample))}`,
  )
}
