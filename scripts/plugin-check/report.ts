import type { ConfigSource } from './config.ts'

/** `fail` makes the run fail; `n/a` does not apply to this plugin; `skip` waits on a failed check. */
export type Status = 'pass' | 'fail' | 'n/a' | 'skip'

/** The checks, in the order they run, with their titles. */
export const CHECKS = {
  schema: 'loads and validates (contract v1)',
  readme: 'README names its settings',
  image: 'image builds',
  worker: 'worker starts',
  answer: 'answers a question',
  session: 'continues the session (sessionId)',
  usage: 'reports usage',
  'long-prompt': 'prompt over 128 KiB (argv limit)',
  'failing-endpoint': 'failing endpoint → agent_error, bounded',
} as const
export type CheckId = keyof typeof CHECKS

/** The checks only an agent gets. */
export const AGENT_CHECKS: CheckId[] = [
  'answer',
  'session',
  'usage',
  'long-prompt',
  'failing-endpoint',
]

export interface CheckResult {
  id: CheckId
  status: Status
  ms: number
  detail: string
}

/** What one plugin's checks found. */
export interface PluginReport {
  target: string
  plugin: string
  kind?: 'agent' | 'capability'
  configSource?: ConfigSource
  results: CheckResult[]
  ms: number
  ok: boolean
}

export type Outcome = { status: Status; detail: string }
export const pass = (detail = ''): Outcome => ({ status: 'pass', detail })
export const fail = (detail: string): Outcome => ({ status: 'fail', detail })
export const na = (detail: string): Outcome => ({ status: 'n/a', detail })
export const skipped = (detail: string): Outcome => ({ status: 'skip', detail })
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** Collects results in order, timing each check; a check that throws has failed with the message. */
export class Recorder {
  readonly results: CheckResult[] = []

  async run(id: CheckId, fn: () => Promise<Outcome> | Outcome): Promise<Outcome> {
    const t0 = Date.now()
    let outcome: Outcome
    try {
      outcome = await fn()
    } catch (err) {
      outcome = fail(err instanceof Error ? err.message : String(err))
    }
    this.results.push({ id, ...outcome, ms: Date.now() - t0 })
    return outcome
  }

  /** Marks the checks that have not run as skipped, saying why. */
  skip(ids: readonly CheckId[], why: string): void {
    for (const id of ids) {
      if (!this.results.some((r) => r.id === id))
        this.results.push({ id, status: 'skip', ms: 0, detail: why })
    }
  }
}
