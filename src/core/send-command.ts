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
import { runAcpTurn, type AcpOutcome } from './acp/turn.ts'
import type { AgentUpdate } from './plugin/updates.ts'
import type { BudgetLedger } from './budget-ledger.ts'
import { budgetExceeded, noSpend, type Spend } from './budget.ts'
import type { WorkerStore } from './worker-store.ts'
import { recordTurn, TurnUpdates } from './record-turn.ts'
import type { Checkpoints } from './checkpoints.ts'

/** What `sendCommand` works with. */
export interface SendCommandParts {
  ctx: CoreContext
  store: WorkerStore
  guard: ActivityGuard
  ledger: BudgetLedger
  /** Takes the per-turn checkpoints (WorkerConfig.checkpoint). */
  checkpoints?: Checkpoints
}

/**
 * The `send_command` command: a prompt through the worker's agent plugin (its reply parsed and
 * its usage summed), or a shell or argv command. Output goes out as events while it runs.
 */
export const sendCommand = async (
  { ctx, store, guard, ledger, checkpoints }: SendCommandParts,
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
    if (agent.acp) {
      // Its long-lived process (core/acp) takes the prompt: this command line is only reported.
      req = { argv: agent.acp.argv, env: { ...record.env, ...agent.acp.env } }
    } else {
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
    }
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
  const turnUpdates = new TurnUpdates()
  const onUpdate = (update: AgentUpdate) => {
    const n = updateSeq++
    turnUpdates.push(update)
    ctx.emit({ type: 'agent', workerId, seq: n, update }, hooks.requestId)
    hooks.onUpdate?.(update, n)
  }
  // An ACP agent's updates come as such (core/acp); a headless CLI's are read off its lines.
  const lines =
    agent && !agent.acp
      ? new AgentLines(agent, onUpdate, (err) =>
          ctx.logger.warn('agent updates dropped', {
            workerId,
            error: err instanceof Error ? err.message : String(err),
          }),
        )
      : undefined
  req.onOutput = (stream, data) => {
    ctx.emit({ type: 'output', workerId, stream, data, seq: seq++ }, hooks.requestId)
    hooks.onOutput?.(stream, data)
    if (lines && stream === 'stdout') lines.push(data)
  }

  hooks.onEffect?.()
  const spentBefore = { ...(record.spend ?? noSpend()) }
  const acp = agent?.acp ? agent : undefined
  const result: AcpOutcome = await guard.active(record, () =>
    acp && input.prompt !== undefined
      ? runAcpTurn(
          ctx,
          record,
          acp,
          { prompt: input.prompt, sessionId: input.sessionId },
          req,
          onUpdate,
        )
      : ctx.runtime.exec(record.containerId, req),
  )
  lines?.end(result.timedOut || hooks.signal?.aborted === true)
  ctx.measures.record({
    kind: 'command',
    type: input.prompt !== undefined ? 'prompt' : 'command',
    agent: record.agent,
    outcome: result.timedOut
      ? 'timeout'
      : result.exitCode === 0 && !result.failure
        ? 'ok'
        : 'failed',
    seconds: result.durationMs / 1000,
  })
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
  const turn = {
    prompt: input.prompt ?? '',
    ...(input.sessionId ? { sessionId: input.sessionId } : {}),
    updates: turnUpdates,
  }
  const { reply: said, failure: failed, ...outcome } = result
  let reply: ReturnType<typeof agentReply>
  try {
    if (failed) throw failed
    reply = said ?? agentReply(agent, outcome)
  } catch (err) {
    const failure = replyFailure(ctx, ledger, agent, workerId, result, err)
    await recordTurn(ctx, store, record, agent, { ...turn, error: failure.message })
    throw failure
  }
  addUsage(record, reply.usage)
  ctx.emit({ type: 'response', workerId, reply }, hooks.requestId)
  const metered = spendSince(spentBefore, record.spend)
  // Saved before the answer: a caller that deletes the worker next still finds the turn.
  await recordTurn(ctx, store, record, agent, { ...turn, reply })
  await checkpoints?.afterTurn(record)
  return { ...outcome, reply, ...(metered ? { metered } : {}) }
}

/** The error a prompt answers when its CLI gave no reply. */
const replyFailure = (
  ctx: CoreContext,
  ledger: BudgetLedger,
  agent: AgentPlugin,
  workerId: string,
  result: { exitCode: number; stderr: string },
  err: unknown,
): SpawnerError => {
  // The CLI failed because the gateway refused a call: say so, not what the CLI made of it.
  const spent = ledger.spentBudget(workerId)
  if (spent) {
    const refused = budgetExceeded(workerId, spent.holder, spent.reached)
    return new SpawnerError('budget_exceeded', refused.message, { cause: err })
  }
  // parse() threw (the CLI reported a failure) or said noResult(): the message says why.
  ctx.logger.warn('agent reported no reply', { workerId, agent: agent.name })
  return new SpawnerError(
    'agent_error',
    `agent '${agent.name}' (exit ${result.exitCode}) gave no reply: ${err instanceof Error ? err.message : String(err)}`,
    { details: { exitCode: result.exitCode, stderr: result.stderr.slice(-2000) }, cause: err },
  )
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
