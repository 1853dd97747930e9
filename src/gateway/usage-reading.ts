/** The tokens one model call used, as the provider reported them, in one shape for all. */
export interface ModelUsage {
  /** The model that answered (the response's own name for it when it gives one). */
  model?: string
  /** Every prompt token read, cached ones included. */
  inputTokens: number
  /** Every token generated, reasoning or thinking included. */
  outputTokens: number
  /** Prompt tokens read from the provider's cache (part of inputTokens). */
  cacheReadInputTokens: number
  /** Prompt tokens written to the provider's cache (part of inputTokens). */
  cacheCreationInputTokens: number
}

type Counts = Omit<ModelUsage, 'model'>
type Json = Record<string, unknown>

const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0)

const ANTHROPIC_CACHE = ['cache_read_input_tokens', 'cache_creation_input_tokens']
const ANTHROPIC_FIELDS = ['input_tokens', 'output_tokens', ...ANTHROPIC_CACHE]

/** Anthropic counts cached prompt tokens apart from input_tokens. */
const fromAnthropic = (u: Json): Counts => {
  const [read, written] = [num(u.cache_read_input_tokens), num(u.cache_creation_input_tokens)]
  return {
    inputTokens: num(u.input_tokens) + read + written,
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: read,
    cacheCreationInputTokens: written,
  }
}

/** OpenAI Responses: input_tokens includes the cached ones, output_tokens the reasoning ones. */
const fromResponses = (u: Json): Counts => ({
  inputTokens: num(u.input_tokens),
  outputTokens: num(u.output_tokens),
  cacheReadInputTokens: num(obj(u.input_tokens_details)?.cached_tokens),
  cacheCreationInputTokens: 0,
})

/** OpenAI Chat Completions: the same, named after prompt and completion. */
const fromChat = (u: Json): Counts => ({
  inputTokens: num(u.prompt_tokens),
  outputTokens: num(u.completion_tokens),
  cacheReadInputTokens: num(obj(u.prompt_tokens_details)?.cached_tokens),
  cacheCreationInputTokens: 0,
})

/** Gemini: promptTokenCount includes cached content; thoughts and tool-use prompts come apart. */
const fromGemini = (u: Json): Counts => ({
  inputTokens: num(u.promptTokenCount) + num(u.toolUsePromptTokenCount),
  outputTokens: num(u.candidatesTokenCount) + num(u.thoughtsTokenCount),
  cacheReadInputTokens: num(u.cachedContentTokenCount),
  cacheCreationInputTokens: 0,
})

/**
 * What one response has said about its usage so far. Every provider's counts are running totals
 * (a stream's last report covers the whole call), so a later reading replaces an earlier one;
 * Anthropic's `message_delta` may carry only some counts, so its fields are merged instead.
 */
export class UsageReading {
  model: string | undefined
  usage: Counts | undefined
  private anthropic: Json = {}

  /**
   * Reads one JSON value: a whole response body, one SSE event's data, or one element of a
   * streamed array. The provider is told apart by the value's shape; only the places the
   * providers put usage are looked at, never message content.
   */
  read(value: unknown): void {
    const v = obj(value)
    if (!v) return
    if (v.type === 'message_start') {
      const message = obj(v.message)
      this.setModel(message?.model)
      return this.mergeAnthropic(obj(message?.usage))
    }
    if (v.type === 'message_delta') return this.mergeAnthropic(obj(v.usage))
    const response = obj(v.response)
    if (response) {
      // Every Responses stream event that carries the response object; usage comes at the end.
      this.setModel(response.model)
      const u = obj(response.usage)
      if (u) this.usage = fromResponses(u)
      return
    }
    const meta = obj(v.usageMetadata)
    if (meta) {
      this.setModel(v.modelVersion)
      this.usage = fromGemini(meta)
      return
    }
    const u = obj(v.usage)
    if (!u) return
    this.setModel(v.model)
    if ('prompt_tokens' in u || 'completion_tokens' in u) this.usage = fromChat(u)
    else if (v.type === 'message' || ANTHROPIC_CACHE.some((k) => k in u)) this.mergeAnthropic(u)
    else this.usage = fromResponses(u)
  }

  private mergeAnthropic(u: Json | undefined) {
    if (!u) return
    for (const k of ANTHROPIC_FIELDS) if (typeof u[k] === 'number') this.anthropic[k] = u[k]
    this.usage = fromAnthropic(this.anthropic)
  }

  private setModel(m: unknown) {
    if (typeof m === 'string' && m) this.model = m
  }
}
