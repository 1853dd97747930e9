import type { Command } from '../../src/core/catalog.ts'

/** A broken invariant, with the request or entry that broke it. */
export class FuzzFailure extends Error {
  constructor(problem: string, what: string) {
    super(`${problem}\n  at: ${what}`)
    this.name = 'FuzzFailure'
  }
}

/** `text` cut to `max` characters, with the length it had. */
export const short = (text: string, max = 200) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`

/** Checks `text` is `{ error: { code, message, details? } }` and not an internal error; returns the code. */
export const checkErrorJson = (text: string, what: string): string => {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new FuzzFailure(`refusal is not JSON: ${short(text)}`, what)
  }
  return checkErrorObject((body as { error?: unknown } | null)?.error, text, what)
}

/** Checks `error` is `{ code, message, details? }` and not an internal error; returns the code. */
export const checkErrorObject = (value: unknown, text: string, what: string): string => {
  const error = value as { code?: unknown; message?: unknown } | undefined
  if (typeof error?.code !== 'string' || error.code === '' || typeof error.message !== 'string') {
    throw new FuzzFailure(`refusal is not the error JSON: ${short(text)}`, what)
  }
  if (error.code === 'internal') throw new FuzzFailure(`internal error: ${short(text)}`, what)
  return error.code
}

/** Checks a success answer against the command's output schema. */
export const checkOutput = (cmd: Command, text: string, what: string) => {
  const result = cmd.output.safeParse(JSON.parse(text))
  if (!result.success) {
    throw new FuzzFailure(
      `${cmd.name} answer does not fit its output schema: ${result.error.message} in ${short(text)}`,
      what,
    )
  }
}

/**
 * The one 5xx a fuzzed request may get: 502 `agent_error`, when the agent CLI a worker runs
 * gave no reply. Over the memory runtime the CLIs of the real agent plugins are not there, so
 * a prompt to such a worker ends so; the service itself worked and says why.
 */
export const isAgentFailure = (status: number, code: string | undefined) =>
  status === 502 && code === 'agent_error'

/** Counts answers by a key (`status code`) and prints them sorted. */
export class Tally {
  readonly counts = new Map<string, number>()
  total = 0

  add(key: string) {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    this.total++
  }

  toString() {
    return [...this.counts]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([k, n]) => `  ${k.padEnd(40)} ${n}`)
      .join('\n')
  }
}

/**
 * Records unhandled rejections and uncaught exceptions while installed: a fuzz case that leaves
 * one behind has crashed the process as far as production is concerned.
 */
export const watchCrashes = () => {
  const seen: string[] = []
  const onRejection = (reason: unknown) =>
    void seen.push(`unhandled rejection: ${describe(reason)}`)
  const onException = (err: unknown) => void seen.push(`uncaught exception: ${describe(err)}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  return {
    seen,
    /** Throws if anything was recorded since the last call (after letting queued callbacks run). */
    async check(what: string) {
      await new Promise((r) => setImmediate(r))
      if (seen.length) throw new FuzzFailure(seen.splice(0).join('\n'), what)
    },
    stop() {
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
    },
  }
}

const describe = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)
