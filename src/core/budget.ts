import { z } from 'zod'
import type { Budget } from './config.ts'
import { ForbiddenError } from './errors.ts'

/** Model calls measured at the gateway, summed: what budgets are checked against. */
export const spendSchema = z
  .object({
    requests: z.number().int().min(0).describe('model calls that reached the upstream'),
    inputTokens: z.number().min(0).describe('prompt tokens, cached ones included'),
    outputTokens: z.number().min(0),
    cacheReadInputTokens: z.number().min(0),
    cacheCreationInputTokens: z.number().min(0),
    costUsd: z.number().min(0).describe('at the price table (MODEL_PRICES over the defaults)'),
    unpriced: z.number().int().min(0).describe('calls to a model with no price: cost 0'),
  })
  .strict()
export type Spend = z.infer<typeof spendSchema>

export const noSpend = (): Spend => ({
  requests: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  costUsd: 0,
  unpriced: 0,
})

/** One model call's measured usage and cost. */
export interface ModelCall {
  inputTokens: number
  outputTokens: number
  cacheReadInputTokens: number
  cacheCreationInputTokens: number
  costUsd: number
  priced: boolean
}

/** `total` with one call added, in place. */
export const addCall = (total: Spend, call: ModelCall): Spend => {
  total.requests++
  total.inputTokens += call.inputTokens
  total.outputTokens += call.outputTokens
  total.cacheReadInputTokens += call.cacheReadInputTokens
  total.cacheCreationInputTokens += call.cacheCreationInputTokens
  total.costUsd += call.costUsd
  if (!call.priced) total.unpriced++
  return total
}

/** The sum of several spends. */
export const sumSpend = (spends: readonly (Spend | undefined)[]): Spend => {
  const total = noSpend()
  for (const s of spends) {
    if (!s) continue
    total.requests += s.requests
    total.inputTokens += s.inputTokens
    total.outputTokens += s.outputTokens
    total.cacheReadInputTokens += s.cacheReadInputTokens
    total.cacheCreationInputTokens += s.cacheCreationInputTokens
    total.costUsd += s.costUsd
    total.unpriced += s.unpriced
  }
  return total
}

/** Which limit of `budget` a spend has reached, or undefined while it is within. */
export const budgetReached = (budget: Budget | undefined, spent: Spend): string | undefined => {
  if (!budget) return undefined
  if (budget.usd !== undefined && spent.costUsd >= budget.usd)
    return `$${spent.costUsd.toFixed(4)} of $${budget.usd}`
  const tokens = spent.inputTokens + spent.outputTokens
  if (budget.tokens !== undefined && tokens >= budget.tokens)
    return `${tokens} of ${budget.tokens} tokens`
  return undefined
}

/** What is left of `budget` after `spent` (a limit left out stays out). */
export const remaining = (budget: Budget, spent: Spend): Budget => ({
  ...(budget.usd !== undefined ? { usd: Math.max(0, budget.usd - spent.costUsd) } : {}),
  ...(budget.tokens !== undefined
    ? { tokens: Math.max(0, budget.tokens - spent.inputTokens - spent.outputTokens) }
    : {}),
})

/**
 * Why `child` asks for more than `available` (the parent's budget less what its tree spent), or
 * undefined: every limit the parent has, the child has too, no larger.
 */
export const widerBudget = (available: Budget, child: Budget | undefined): string | undefined => {
  for (const k of ['usd', 'tokens'] as const) {
    const limit = available[k]
    if (limit === undefined) continue
    const asked = child?.[k]
    if (asked === undefined) return `${k}: unset, the parent has ${limit} left`
    if (asked > limit) return `${k}: ${asked} is more than the ${limit} the parent has left`
  }
  return undefined
}

/** The error a call answers when a budget is spent; `holder` is the worker whose budget it is. */
export const budgetExceeded = (workerId: string, holder: string, reached: string) =>
  new ForbiddenError(
    holder === workerId
      ? `worker '${workerId}' has spent its model budget (${reached}); raise it with update`
      : `worker '${workerId}' is under '${holder}', which has spent its model budget (${reached}); raise it with update`,
    'budget_exceeded',
  )
