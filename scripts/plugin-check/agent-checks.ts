import type { StubModel } from '../../test/support/stub-model/server.ts'
import { longFiller, promptFor, type CheckConfig } from './config.ts'
import { fail, na, pass, seconds, skipped, type Outcome, type Recorder } from './report.ts'

/** A failing model endpoint must give `agent_error` within this long. */
export const FAILING_ENDPOINT_BOUND_MS = 60_000

/** JSON calls to the service's HTTP API. */
export type Call = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: any }>

/** The error of an HTTP answer in one line. */
export const errorOf = (r: { status: number; json: any }) =>
  `${r.status} ${r.json?.error?.code ?? ''}: ${String(r.json?.error?.message ?? JSON.stringify(r.json)).slice(0, 300)}`

export interface AgentCheckContext {
  workerId: string
  config: CheckConfig
  call: Call
  /** The stub model the CLI talks to; none for an agent without a model. */
  stub?: StubModel
  /** Makes the stub answer every request with a 500 while set. */
  setFailing(failing: boolean): void
  /** Added to a failure when the kit had no settings for this CLI. */
  hint: string
}

/**
 * The contract checks of an agent in a running worker: answers a question, continues a session,
 * reports usage, takes a prompt over the argv limit, and fails fast on a failing endpoint.
 */
export const agentChecks = async (rec: Recorder, ctx: AgentCheckContext): Promise<void> => {
  const { config, stub } = ctx
  const ask = async (
    a: number,
    b: number,
    extra: { sessionId?: string; filler?: string; timeoutMs?: number } = {},
  ) => {
    const t0 = Date.now()
    const r = await ctx.call('POST', `/v1/workers/${ctx.workerId}/commands`, {
      prompt: promptFor(config, a, b, extra.filler),
      timeoutMs: extra.timeoutMs ?? config.timeoutMs,
      ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
    })
    return { ...r, ms: Date.now() - t0 }
  }
  const expectSum = (r: Awaited<ReturnType<typeof ask>>, sum: number): Outcome => {
    if (r.status !== 200) return fail(errorOf(r) + ctx.hint)
    const text = String(r.json.reply?.text ?? '')
    if (text.trim() === String(sum)) return pass(`'${sum}' in ${seconds(r.ms)}`)
    const said = String(r.json.stderr ?? '')
      .trim()
      .slice(-200)
    return fail(
      `expected '${sum}', got '${text.slice(0, 200)}' (exit ${r.json.exitCode}${said ? `, stderr: ${said}` : ''})${ctx.hint}`,
    )
  }

  let first: Awaited<ReturnType<typeof ask>> | undefined
  const answer = await rec.run('answer', async () => {
    first = await ask(5, 7)
    return expectSum(first, 12)
  })

  await rec.run('session', async () => {
    if (!config.model) return na('the agent calls no model')
    if (answer.status !== 'pass') return skipped('no first answer')
    const sessionId = first?.json.reply?.sessionId as string | undefined
    if (!sessionId) return fail('the reply has no sessionId')
    if (stub) stub.requests.length = 0
    const second = await ask(1, 2, { sessionId })
    const sum = expectSum(second, 3)
    if (sum.status !== 'pass') return sum
    const turns = stub?.requestsWith(promptFor(config, 1, 2)) ?? []
    if (!turns.some((r) => r.text.includes(promptFor(config, 5, 7)))) {
      return fail('the second prompt reached the model without the first turn')
    }
    return pass(`'3' with the first turn in ${seconds(second.ms)}`)
  })

  await rec.run('usage', () => {
    if (!config.model) return na('the agent calls no model')
    if (answer.status !== 'pass') return skipped('no first answer')
    const usage = first?.json.reply?.usage as
      { inputTokens?: number; outputTokens?: number } | undefined
    if (!usage) return fail('the reply has no usage')
    const { inputTokens: input = 0, outputTokens: output = 0 } = usage
    if (!(input > 0 && output > 0))
      return fail(`inputTokens ${input}, outputTokens ${output}: both should be above 0`)
    return pass(`${input} in, ${output} out`)
  })

  await rec.run('long-prompt', async () => {
    const filler = longFiller()
    const r = await ask(20, 22, { filler })
    const outcome = expectSum(r, 42)
    const kib = Math.round(
      new TextEncoder().encode(promptFor(config, 20, 22, filler)).length / 1024,
    )
    return { ...outcome, detail: `${kib} KiB: ${outcome.detail}` }
  })

  await rec.run('failing-endpoint', async () => {
    if (!stub) return na('the agent calls no model')
    ctx.setFailing(true)
    try {
      // A little over the bound: a CLI still retrying then has failed the check either way.
      const r = await ask(2, 2, { timeoutMs: FAILING_ENDPOINT_BOUND_MS + 5_000 })
      const code = r.json?.error?.code
      if (r.status !== 502 || code !== 'agent_error') {
        return fail(
          `expected 502 agent_error, got ${r.status} ${code ?? JSON.stringify(r.json?.reply ?? r.json).slice(0, 200)}`,
        )
      }
      if (r.ms > FAILING_ENDPOINT_BOUND_MS) {
        const why = String(r.json.error.message ?? '').slice(0, 160)
        return fail(
          `agent_error after ${seconds(r.ms)}, over the ${seconds(FAILING_ENDPOINT_BOUND_MS)} bound (does the CLI retry?): ${why}`,
        )
      }
      return pass(`agent_error in ${seconds(r.ms)}`)
    } finally {
      ctx.setFailing(false)
    }
  })
}
