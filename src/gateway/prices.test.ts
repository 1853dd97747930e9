import { describe, expect, it } from 'vitest'
import { parseEnv } from '../settings.ts'
import { z } from 'zod'
import {
  costOf,
  DEFAULT_PRICES,
  modelPricesSetting,
  parseModelPrices,
  priceOf,
  priceTable,
} from './prices.ts'
import type { ModelUsage } from './usage.ts'

const usage = (model: string | undefined, u: Partial<ModelUsage> = {}): ModelUsage => ({
  model,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  ...u,
})

describe('priceOf', () => {
  it('takes the entry with the longest prefix of the model name', () => {
    expect(priceOf('claude-opus-4-20250514', DEFAULT_PRICES)?.input).toBe(15)
    expect(priceOf('claude-opus-4-1-20250805', DEFAULT_PRICES)?.input).toBe(15)
    expect(priceOf('claude-opus-4-5-20251101', DEFAULT_PRICES)?.input).toBe(5)
    expect(priceOf('claude-sonnet-4-5-20250929', DEFAULT_PRICES)?.output).toBe(15)
    expect(priceOf('claude-haiku-4-5', DEFAULT_PRICES)?.cacheRead).toBe(0.1)
    expect(priceOf('gpt-5-2025-08-07', DEFAULT_PRICES)?.input).toBe(1.25)
    expect(priceOf('gpt-5-mini', DEFAULT_PRICES)?.input).toBe(0.25)
    expect(priceOf('gpt-5.1-codex', DEFAULT_PRICES)?.input).toBe(1.25)
    expect(priceOf('gpt-5.1-codex-mini', DEFAULT_PRICES)?.input).toBe(0.25)
    expect(priceOf('o4-mini-2025-04-16', DEFAULT_PRICES)?.input).toBe(1.1)
    expect(priceOf('gemini-2.5-flash-lite', DEFAULT_PRICES)?.input).toBe(0.1)
    expect(priceOf('gemini-2.5-flash-preview-09-2025', DEFAULT_PRICES)?.input).toBe(0.3)
  })

  it('ignores case and a provider path before the name', () => {
    expect(priceOf('GPT-4.1', DEFAULT_PRICES)?.input).toBe(2)
    expect(priceOf('anthropic/claude-sonnet-4.5', DEFAULT_PRICES)?.input).toBe(3)
    expect(priceOf('models/gemini-2.5-pro', DEFAULT_PRICES)?.input).toBe(1.25)
  })

  it('knows no price for other models', () => {
    expect(priceOf('llama-3-70b', DEFAULT_PRICES)).toBeUndefined()
    expect(priceOf(undefined, DEFAULT_PRICES)).toBeUndefined()
    expect(priceOf('', DEFAULT_PRICES)).toBeUndefined()
  })
})

describe('costOf', () => {
  it('bills cached prompt tokens at the cache prices and the rest at the input price', () => {
    // Sonnet 4.x: 3 in, 15 out, 0.3 cache read, 3.75 cache write.
    const u = usage('claude-sonnet-4-5', {
      inputTokens: 1_210_000,
      cacheReadInputTokens: 1_000_000,
      cacheCreationInputTokens: 200_000,
      outputTokens: 100_000,
    })
    const { costUsd, priced } = costOf(u, DEFAULT_PRICES)
    expect(priced).toBe(true)
    expect(costUsd).toBeCloseTo(0.03 + 0.3 + 0.75 + 1.5, 10)
  })

  it('bills an OpenAI call with cached tokens', () => {
    const u = usage('gpt-5-codex', {
      inputTokens: 1_500_000,
      cacheReadInputTokens: 1_200_000,
      outputTokens: 300_000,
    })
    expect(costOf(u, DEFAULT_PRICES).costUsd).toBeCloseTo(0.375 + 0.15 + 3, 10)
  })

  it('costs nothing, unpriced, for an unknown model', () => {
    expect(costOf(usage('mystery', { inputTokens: 1e6 }), DEFAULT_PRICES)).toEqual({
      costUsd: 0,
      priced: false,
    })
  })

  it('never bills a negative number of fresh tokens', () => {
    const u = usage('gpt-4.1', { inputTokens: 10, cacheReadInputTokens: 1_000_000 })
    expect(costOf(u, DEFAULT_PRICES).costUsd).toBeCloseTo(0.5, 10)
  })
})

describe('MODEL_PRICES', () => {
  it('merges the operator’s entries over the defaults', () => {
    const table = parseModelPrices(
      JSON.stringify({
        'claude-sonnet-4': { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 },
        'My-Model': { input: 1, output: 2 },
      }),
    )
    expect(priceOf('claude-sonnet-4-5', table)).toEqual({
      input: 2,
      output: 10,
      cacheRead: 0.2,
      cacheWrite: 2.5,
    })
    expect(priceOf('my-model-v2', table)).toEqual({
      input: 1,
      output: 2,
      cacheRead: 1,
      cacheWrite: 1,
    })
    expect(priceOf('gpt-5', table)).toEqual(priceOf('gpt-5', DEFAULT_PRICES))
  })

  it('is the defaults when unset', () => {
    expect([...parseModelPrices(undefined)]).toEqual([...DEFAULT_PRICES])
    expect([...parseModelPrices('')]).toEqual([...DEFAULT_PRICES])
    expect([...priceTable()]).toEqual([...DEFAULT_PRICES])
  })

  it('names the bad entry and field', () => {
    const bad = (v: unknown) => () => parseModelPrices(JSON.stringify(v))
    expect(bad({ 'gpt-5.1': { input: 1, output: '2' } })).toThrow(
      /^invalid MODEL_PRICES: "gpt-5\.1"\.output: .*number/,
    )
    expect(bad({ x: { input: -1, output: 2 } })).toThrow(/"x"\.input: /)
    expect(bad({ x: { input: 1 } })).toThrow(/"x"\.output: /)
    expect(bad({ x: { input: 1, output: 2, cached: 1 } })).toThrow(/"x": .*"cached"/)
    expect(bad({ x: 3 })).toThrow(/"x": /)
    expect(bad([1])).toThrow(/invalid MODEL_PRICES: .*record/)
    expect(() => parseModelPrices('{"x": {')).toThrow(/^invalid MODEL_PRICES: not JSON/)
  })

  it('reads as a setting, with the entry and field in the message', () => {
    const schema = z.object({ MODEL_PRICES: modelPricesSetting })
    expect(parseEnv(schema, {}).MODEL_PRICES.get('gpt-5')).toEqual(DEFAULT_PRICES.get('gpt-5'))
    expect(() =>
      parseEnv(schema, { MODEL_PRICES: '{"my-model":{"input":1,"output":null}}' }),
    ).toThrow(/MODEL_PRICES\.my-model\.output: /)
  })
})
