import type { z } from 'zod'
import type { ActivityGuard } from './activity.ts'
import type { CoreContext } from './context.ts'
import { SpawnerError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import { agentPrompt, agentReply } from './plugin/hooks.ts'
import type { ExecRequest } from './runtime.ts'
import type * as S from './schemas.ts'
import { addUsage } from './worker-record.ts'
import { AgentLines } from './agent-lines.ts'
import type { BudgetLedger } from './budget-ledger.ts'
import { budgetExceeded, noSpend, type Spend } from './budget.ts'
import type { WorkerStore } from './worker-store.ts'

/** What `sendCommand` works with. */
export interface SendCommandParts {
  ctx: CoreContext
  store: WorkerStore
  guard: ActivityGuard
  ledger: BudgetLedger
}

/**
 * The `send_command` command: a prompt through the worker's agent plugin (its reply parsed and
 * its usage summed), or a shell or argv command. Output goes out as events while it runs.
 */
export const sendCommand = async (
  { ctx, store, guard, ledger }: SendCommandParts,
  input: z.output<typeof S.sendCommandInput>,
  hooks: CommandHooks = {},
): Promise<z.output<typeof S.sendCommandOutput>> => {
  const record = await store.get(input.workerId)
  let req: ExecRequest
  let agent: AgentPlugin | undefined
  if (input.prompt !== undefined) {
    // A spent budget refuses the prompt before the CLI starts (the gateway would refuse its calls).
    ledger.admit(record.workerId)
    agent = store.agentFor(record)
    const cmd = agentPrompt(agent, {
      prompt: input.prompt,
      workdir: input.workdir ?? record.workdir,
      env: input.env ?? {},
      stream: hooks.onOutput !== undefined,
      permissions: record.permissions ? 'ask' : 'skip',
      ...(input.sessionId ? { sessionId: input.sessionId } : {}),
    })
    req = { argv: cmd.argv, env: { ...record.env, ...cmd.env, ...input.env } }
    if (cmd.stdin !== undefined) req.stdin = cmd.stdin
  } else if (input.shell !== undefined) {
    req = { argv: ['/bin/bash', '-c', input.shell], env: { ...record.env, ...input.env } }
  } else {
    req = { argv: input.argv ?? [], env: { ...record.env, ...input.env } }
  }
  req.workdir = input.workdir ?? record.workdir
  req.timeoutMs = input.timeoutMs
  if (hooks.signal) req.signal = hooks.signal
  let seq = 0
  const workerId = record.workerId
  let updateSeq = 0
  const lines =
    agent &&
    new AgentLines(
      agent,
      (update) => {
        const n = updateSeq++
        ctx.emit({ type: 'agent', workerId, seq: n, update }, hooks.requestId)
        hooks.onUpdate?.(update, n)
      },
      (err) =>
        ctx.logger.warn('agent updates dropped', {
          workerId,
          error: err instanceof Error ? err.message : String(err),
        }),
    )
  req.onOutput = (stream, data) => {
    ctx.emit({ type: 'output', workerId, stream, data, seq: seq++ }, hooks.requestId)
    hooks.onOutput?.(stream, data)
    if (lines && stream === 'stdout') lines.push(data)
  }

  hooks.onEffect?.()
  const spentBefore = { ...(record.spend ?? noSpend()) }
  const result = await guard.active(record, () => ctx.runtime.exec(record.containerId, req))
  lines?.end(result.timedOut || hooks.signal?.aborted === true)
  ctx.emit(
    {
      type: 'command_exit',
      workerId,
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      durationMs: result.durationMs,
    },
    hooks.requestId,
  )
  if (!agent) return result
  try {
    const reply = agentReply(agent, result)
    addUsage(record, reply.usage)
    ctx.emit({ type: 'response', workerId, reply }, hooks.requestId)
    const metered = spendSince(spentBefore, record.spend)
    return { ...result, reply, ...(metered ? { metered } : {}) }
  } catch (err) {
    // The CLI failed because the gateway refused a call: say so, not what the CLI made of it.
    const spent = ledger.spentBudget(workerId)
    if (spent) {
      const refused = budgetExceeded(workerId, spent.holder, spent.reached)
      throw new SpawnerError('budget_exceeded', refused.message, { cause: err })
    }
    // parse() threw (the CLI reported a failure) or said noResult(): the message says why.
    ctx.logger.warn('agent reported no reply', { workerId, agent: agent.name })
    throw new SpawnerError(
      'agent_error',
      `agent '${agent.name}' (exit ${result.exitCode}) gave no reply: ${err instanceof Error ? err.message : String(err)}`,
      { details: { exitCode: result.exitCode, stderr: result.stderr.slice(-2000) }, cause: err },
    )
  }
}

/** What a worker spent since `before`, or undefined when it made no model call through the gateway. */
const spendSince = (before: Spend, now: Spend | undefined): Spend | undefined => {
  if (!now || now.requests === before.requests) return undefined
  return {
    requests: now.requests - before.requests,
    inputTokens: now.inputTokens - before.inputTokens,
    outputTokens: now.outputTokens - before.outputTokens,
    cacheReadInputTokens: now.cacheReadInputTokens - before.cacheReadInputTokens,
    cacheCreationInputTokens: now.cacheCreationInputTokens - before.cacheCreationInputTokens,
    costUsd: now.costUsd - before.costUsd,
    unpriced: now.unpriced - before.unpriced,
  }
}
