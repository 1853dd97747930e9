import { num, type Json } from 'workers-spawner/plugin'

/**
 * Claude Code's `type: 'result'` line, read the same way by `parse` (the reply) and `updates`
 * (the usage and the end of the turn), so both say the same.
 */
export type Result = Json & { usage?: Json; model_usage_since_last_result?: Record<string, Json> }

/**
 * This run's cost. On `--resume`, `total_cost_usd` carries the session's earlier turns too, so
 * the per-run breakdown stream-json adds is preferred; summing per-worker usage needs it.
 */
const runCost = ({ model_usage_since_last_result: perModel, total_cost_usd: total }: Result) => {
  const costUsd = perModel ? Object.values(perModel).reduce((n, m) => n + num(m.costUSD), 0) : total
  return typeof costUsd === 'number' ? { costUsd } : {}
}

/** A run's usage: Anthropic counts cached prompt tokens apart, inputTokens is every one read. */
export const resultUsage = (r: Result) => {
  const u = r.usage ?? {}
  const [read, written] = [num(u.cache_read_input_tokens), num(u.cache_creation_input_tokens)]
  return {
    inputTokens: num(u.input_tokens) + written + read,
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: read,
    cacheCreationInputTokens: written,
    ...runCost(r),
  }
}

/** Why a run that reported an error (`is_error: true`) failed, in one line. */
export const errorMessage = (r: Result): string => {
  const kind = [r.subtype, r.api_error].filter((k) => typeof k === 'string' && k).join(', ')
  const said = (typeof r.result === 'string' && r.result) || [r.errors].flat(1).join('; ')
  return `claude reported an error${kind ? ` (${kind})` : ''}: ${said || 'no message'}`
}
