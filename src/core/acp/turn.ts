import type { CoreContext } from '../context.ts'
import type { AgentPlugin, Reply } from '../plugin/contract.ts'
import { agentUpdateSchema, type AgentUpdate } from '../plugin/updates.ts'
import type { ExecRequest, ExecResult } from '../runtime.ts'
import type { WorkerRecord } from '../worker-record.ts'
import type { AcpProcess } from './agent-process.ts'
import { acpAgentFor, killAcpAgent } from './processes.ts'

/** Exit codes of a prompt stopped by its timeout or by the caller, as `exec` reports them. */
const EXIT_TIMEOUT = 124
const EXIT_ABORTED = 130
/** How long a cancelled prompt may take to answer before its agent is killed. */
const CANCEL_GRACE_MS = 5000
/** The most of a prompt's raw lines kept in its result (each also went out as an event). */
const MAX_STDOUT = 4 * 1024 * 1024
/**
 * The most of a prompt's raw lines passed on as events, as `exec` keeps of a command's output
 * (its default `maxOutputBytes`): an agent that floods is not heard beyond it, that prompt.
 */
const MAX_STREAMED = 16 * 1024 * 1024

/** Updates in which the agent says something of its own (see `spoke` in `runAcpTurn`). */
const SPOKEN = new Set(['agent_message_chunk', 'agent_thought_chunk', 'tool_call', 'plan'])

/** A prompt's run over ACP: the result as `exec` gives one, and the reply or why there is none. */
export type AcpOutcome = ExecResult & { reply?: Reply; failure?: Error }

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/**
 * An ACP session update as an `agent` event: they are the same vocabulary. Kinds of ours the
 * agent may not send (`turn_end`, `error`: the core says those) and kinds we do not carry (the
 * agent's commands, mode and title notices, the prompt echoed back) are left out, as is ACP's
 * own `usage_update` (context window size, not tokens spent).
 */
export const updateOf = (raw: unknown): AgentUpdate | undefined => {
  if (!isObject(raw)) return undefined
  const kind = raw.sessionUpdate
  if (kind === 'turn_end' || kind === 'error' || kind === 'usage_update') return undefined
  const parsed = agentUpdateSchema.safeParse(raw)
  return parsed.success ? parsed.data : undefined
}

/** Tokens of a prompt's answer (`usage`, still unstable in ACP), when the agent gives them. */
const usageOf = (response: unknown) => {
  const u = isObject(response) && isObject(response.usage) ? response.usage : undefined
  const inputTokens = num(u?.inputTokens)
  const outputTokens = num(u?.outputTokens)
  if (inputTokens === undefined && outputTokens === undefined) return undefined
  return {
    ...(inputTokens !== undefined ? { inputTokens } : {}),
    ...(outputTokens !== undefined ? { outputTokens } : {}),
  }
}

/** Waits for `promise` or `ms`, whichever first; true when it settled. */
const within = async (promise: Promise<unknown>, ms: number): Promise<boolean> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), ms))),
  ])
  clearTimeout(timer)
  return settled
}

/**
 * One prompt to the worker's ACP agent (started on the first, kept for the next): in the
 * session named (live here, or loaded) or a new one. Its session updates go to `onUpdate` as
 * they come and, as raw lines, to `req.onOutput`; it ends with `turn_end` and the answer's stop
 * reason. The reply is the text of the agent's last message (after its last tool call).
 * `req.timeoutMs` and `req.signal` cancel the prompt (`session/cancel`), and kill the agent
 * when it does not stop in CANCEL_GRACE_MS.
 */
export const runAcpTurn = async (
  ctx: CoreContext,
  record: WorkerRecord,
  agent: AgentPlugin,
  turn: { prompt: string; sessionId?: string },
  req: ExecRequest,
  onUpdate: (update: AgentUpdate) => void,
): Promise<AcpOutcome> => {
  const started = performance.now()
  const durationMs = () => Math.round(performance.now() - started)
  let stdout = ''
  let streamed = 0
  let stopped: 'timeout' | 'abort' | undefined
  let stop!: () => void
  const stopping = new Promise<void>((resolve) => (stop = resolve))
  const onStop = (why: 'timeout' | 'abort') => {
    stopped ??= why
    stop()
  }
  const timer =
    req.timeoutMs === undefined ? undefined : setTimeout(() => onStop('timeout'), req.timeoutMs)
  const onAbort = () => onStop('abort')
  req.signal?.addEventListener('abort', onAbort, { once: true })
  if (req.signal?.aborted) onAbort()

  const finish = (fields: Partial<AcpOutcome>): AcpOutcome => {
    clearTimeout(timer)
    req.signal?.removeEventListener('abort', onAbort)
    const exitCode = stopped === 'timeout' ? EXIT_TIMEOUT : stopped === 'abort' ? EXIT_ABORTED : 0
    return {
      exitCode,
      stdout,
      stderr: '',
      timedOut: stopped === 'timeout',
      durationMs: durationMs(),
      ...fields,
    }
  }
  const stoppedFailure = () =>
    new Error(
      stopped === 'timeout'
        ? `the prompt timed out after ${durationMs()} ms`
        : 'the prompt was cancelled',
    )

  const failed = (err: unknown, stderr = '') => {
    const failure = err instanceof Error ? err : new Error(String(err))
    onUpdate({ sessionUpdate: 'error', message: failure.message })
    onUpdate({ sessionUpdate: 'turn_end', stopReason: 'cancelled' })
    return finish({ exitCode: 1, stderr: stderr || failure.message, failure })
  }

  let text = ''
  /** Whether the agent said anything of its own this turn: text, thoughts, a tool call, a plan. */
  let spoke = false
  let answered: { r: unknown } | { e: unknown } | undefined
  let proc: AcpProcess
  let sessionId: string
  // An agent that died before it said anything of this prompt (between two prompts, unnoticed
  // yet) gets one more try, on a new process that loads the session.
  for (let attempt = 0; ; attempt++) {
    // The agent and its session; a start that outlasts the deadline is dropped, agent and all.
    let started: AcpProcess | undefined
    const ready = (async () => {
      const p = (started = await acpAgentFor(ctx, record, agent))
      return [p, await p.session(turn.sessionId, req.workdir ?? record.workdir)] as const
    })()
    let said = 0
    try {
      const first = await Promise.race([ready, stopping.then(() => undefined)])
      if (!first) {
        void ready.then(() => killAcpAgent(ctx, record.workerId)).catch(() => {})
        onUpdate({ sessionUpdate: 'turn_end', stopReason: 'cancelled' })
        return finish({ failure: stoppedFailure() })
      }
      ;[proc, sessionId] = first
    } catch (err) {
      if (attempt === 0 && started?.ended) continue
      return failed(err, started?.stderrTail())
    }
    const listen = (method: string, params: Record<string, unknown>) => {
      if (method !== 'session/update' || params.sessionId !== sessionId) return
      said++
      const line = `${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`
      streamed += line.length
      if (streamed > MAX_STREAMED) return
      if (stdout.length + line.length <= MAX_STDOUT) stdout += line
      req.onOutput?.('stdout', line)
      const update = updateOf(params.update)
      if (!update) return
      if (update.sessionUpdate === 'tool_call') text = ''
      if (SPOKEN.has(update.sessionUpdate)) spoke = true
      if (update.sessionUpdate === 'agent_message_chunk' && update.content.type === 'text') {
        text += (update.content as { text: string }).text
      }
      onUpdate(update)
    }
    const answer = proc.prompt(sessionId, turn.prompt, listen)
    answered = await Promise.race([
      answer.then(
        (r) => ({ r }),
        (e: unknown) => ({ e }),
      ),
      stopping.then(() => undefined),
    ])
    if (!answered) {
      proc.cancel(sessionId)
      if (!(await within(answer, CANCEL_GRACE_MS))) await killAcpAgent(ctx, record.workerId)
      onUpdate({ sessionUpdate: 'turn_end', stopReason: 'cancelled', sessionId })
      return finish({ failure: stoppedFailure(), stderr: proc.stderrTail() })
    }
    if (!('e' in answered)) break
    if (attempt === 0 && proc.ended && said === 0) continue
    return failed(answered.e, proc.stderrTail())
  }
  const response = answered.r
  const stopReason = isObject(response) ? response.stopReason : undefined
  // A turn that ends without a word was no answer: a model that failed, which some agents
  // report only on their stderr (opencode), never an empty reply that looks fine.
  if (!spoke && stopReason === 'end_turn') {
    const tail = proc.stderrTail()
    const why = tail.trim() ? `: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''
    return failed(new Error(`the agent ended its turn without a word${why}`), tail)
  }
  const usage = usageOf(response)
  if (usage) onUpdate({ sessionUpdate: 'usage_update', ...usage })
  // A stop reason ACP has and we do not (a newer one) ends the turn as `end_turn`.
  const end = agentUpdateSchema.safeParse({ sessionUpdate: 'turn_end', stopReason, sessionId })
  onUpdate(
    end.success ? end.data : { sessionUpdate: 'turn_end', stopReason: 'end_turn', sessionId },
  )
  return finish({
    reply: { text, sessionId, ...(usage ? { usage } : {}), raw: response },
  })
}
