import { z } from 'zod'
import type { ModelUsage } from './usage.ts'

const perMillion = z.number().nonnegative().finite()

/**
 * One model's prices in USD per million tokens. A cache price left out is the input price
 * (OpenAI and Gemini charge nothing extra to write their caches).
 */
export const modelPriceSchema = z
  .object({
    input: perMillion,
    output: perMillion,
    cacheRead: perMillion.optional(),
    cacheWrite: perMillion.optional(),
  })
  .strict()
  .transform(({ input, output, cacheRead, cacheWrite }) => ({
    input,
    output,
    cacheRead: cacheRead ?? input,
    cacheWrite: cacheWrite ?? input,
  }))
export type ModelPrice = z.output<typeof modelPriceSchema>

/** Prices by model-name prefix, matched longest first and regardless of case. */
export type PriceTable = ReadonlyMap<string, ModelPrice>

const p = (input: number, output: number, cacheRead = input, cacheWrite = input): ModelPrice => ({
  input,
  output,
  cacheRead,
  cacheWrite,
})

/**
 * The providers' list prices (standard tier, prompts up to 200K tokens; Anthropic's cache
 * writes at the 5-minute rate). A variant not listed takes its family's price.
 */
export const DEFAULT_PRICES: PriceTable = new Map([
  // Anthropic: Opus 4.5 and later cost a third of Opus 4 and 4.1.
  ['claude-opus-4', p(15, 75, 1.5, 18.75)],
  ['claude-opus-4-1', p(15, 75, 1.5, 18.75)],
  ['claude-opus-4-5', p(5, 25, 0.5, 6.25)],
  ['claude-opus-4-6', p(5, 25, 0.5, 6.25)],
  ['claude-opus-4-7', p(5, 25, 0.5, 6.25)],
  ['claude-opus-4-8', p(5, 25, 0.5, 6.25)],
  ['claude-sonnet-4', p(3, 15, 0.3, 3.75)],
  ['claude-haiku-4', p(1, 5, 0.1, 1.25)],
  // OpenAI: the codex models cost what their GPT-5 version does.
  ['gpt-5', p(1.25, 10, 0.125)],
  ['gpt-5-mini', p(0.25, 2, 0.025)],
  ['gpt-5-nano', p(0.05, 0.4, 0.005)],
  ['gpt-5-pro', p(15, 120)],
  ['gpt-5-codex-mini', p(0.25, 2, 0.025)],
  ['gpt-5.1-codex-mini', p(0.25, 2, 0.025)],
  ['gpt-5.2', p(1.75, 14, 0.175)],
  ['gpt-5.2-pro', p(21, 168)],
  ['gpt-5.3', p(1.75, 14, 0.175)],
  ['gpt-5.4', p(2.5, 15, 0.25)],
  ['gpt-5.4-mini', p(0.75, 4.5, 0.075)],
  ['gpt-5.4-nano', p(0.2, 1.25, 0.02)],
  ['gpt-5.4-pro', p(30, 180)],
  ['gpt-5.5', p(5, 30, 0.5)],
  ['gpt-5.5-pro', p(30, 180)],
  ['codex-mini', p(1.5, 6, 0.375)],
  ['gpt-4.1', p(2, 8, 0.5)],
  ['gpt-4.1-mini', p(0.4, 1.6, 0.1)],
  ['gpt-4.1-nano', p(0.1, 0.4, 0.025)],
  ['gpt-4o', p(2.5, 10, 1.25)],
  ['gpt-4o-mini', p(0.15, 0.6, 0.075)],
  ['o1', p(15, 60, 7.5)],
  ['o1-mini', p(1.1, 4.4, 0.55)],
  ['o1-pro', p(150, 600)],
  ['o3', p(2, 8, 0.5)],
  ['o3-mini', p(1.1, 4.4, 0.55)],
  ['o3-pro', p(20, 80)],
  ['o3-deep-research', p(10, 40, 2.5)],
  ['o4-mini', p(1.1, 4.4, 0.275)],
  ['o4-mini-deep-research', p(2, 8, 0.5)],
  // Google
  ['gemini-2.5-pro', p(1.25, 10, 0.125)],
  ['gemini-2.5-flash', p(0.3, 2.5, 0.03)],
  ['gemini-2.5-flash-lite', p(0.1, 0.4, 0.01)],
  ['gemini-3', p(2, 12, 0.2)],
  ['gemini-3-flash', p(0.5, 3, 0.05)],
])

/** The operator's prices (`MODEL_PRICES`), by model-name prefix. */
export const priceOverridesSchema = z.record(z.string().min(1), modelPriceSchema)

/** The defaults with `overrides` over them: an entry replaces the default of the same prefix. */
export const priceTable = (overrides: Record<string, ModelPrice> = {}): PriceTable =>
  new Map([
    ...DEFAULT_PRICES,
    ...Object.entries(overrides).map(([k, v]) => [k.toLowerCase(), v] as const),
  ])

/**
 * The `MODEL_PRICES` setting: JSON such as `{ "claude-sonnet-4": { "input": 3, "output": 15,
 * "cacheRead": 0.3, "cacheWrite": 3.75 } }`, merged over DEFAULT_PRICES. Issues name the entry
 * and field (`claude-sonnet-4.output`).
 */
export const modelPricesSetting = z
  .string()
  .default('{}')
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` })
      return z.NEVER
    }
  })
  .pipe(priceOverridesSchema)
  .transform(priceTable)

/** Reads `MODEL_PRICES` (unset: the defaults); throws an Error naming each bad entry and field. */
export const parseModelPrices = (text: string | undefined): PriceTable => {
  const parsed = modelPricesSetting.safeParse(text || undefined)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((i) => {
    const [entry, ...field] = i.path.map(String)
    const at =
      entry === undefined ? '' : `${JSON.stringify(entry)}${field.map((f) => `.${f}`).join('')}: `
    return `${at}${i.message}`
  })
  throw new Error(`invalid MODEL_PRICES: ${issues.join('; ')}`)
}

const longest = (name: string, table: PriceTable): ModelPrice | undefined => {
  let best: [string, ModelPrice] | undefined
  for (const entry of table) {
    if (name.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry
  }
  return best?.[1]
}

/**
 * A model's prices: the entry with the longest prefix of its name; failing that, of the name
 * after its last `/` (`anthropic/claude-sonnet-4.5`, `models/gemini-2.5-pro`).
 */
export const priceOf = (model: string | undefined, table: PriceTable): ModelPrice | undefined => {
  if (!model) return undefined
  const name = model.toLowerCase()
  return longest(name, table) ?? longest(name.slice(name.lastIndexOf('/') + 1), table)
}

/**
 * What a call cost: cached prompt tokens at the cache prices, the rest of inputTokens at the
 * input price, outputTokens at the output price. A model with no price costs 0 and is not
 * `priced`.
 */
export const costOf = (
  usage: ModelUsage,
  table: PriceTable,
): { costUsd: number; priced: boolean } => {
  const price = priceOf(usage.model, table)
  if (!price) return { costUsd: 0, priced: false }
  const { inputTokens, outputTokens, cacheReadInputTokens: read } = usage
  const written = usage.cacheCreationInputTokens
  const fresh = Math.max(0, inputTokens - read - written)
  const micro =
    fresh * price.input +
    read * price.cacheRead +
    written * price.cacheWrite +
    outputTokens * price.output
  return { costUsd: micro / 1e6, priced: true }
}
