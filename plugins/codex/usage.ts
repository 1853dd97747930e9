import { num, obj, type Json } from 'workers-spawner/plugin'

/**
 * What one prompt used, by Codex's token names (`input`, `cached_input`, `cache_write_input`,
 * `output`, `reasoning_output`): `turn.completed` gives the thread's running total, so the total
 * before the prompt (the `token_count` record RUN_SCRIPT prints first for a resumed session) is
 * taken off. A new session has none: its total is its own.
 */
export const promptTokens = (done: Json, before: Json | undefined) => {
  const prior = obj(obj(obj(before?.payload).info).total_token_usage)
  return (name: string) =>
    Math.max(0, num(obj(done.usage)[`${name}_tokens`]) - num(prior[`${name}_tokens`]))
}

/** This prompt's usage as `parse` reports it: the thread's running total less the one before. */
export const usageOf = (done: Json, before: Json | undefined) => {
  const d = promptTokens(done, before)
  const [inputTokens, cachedInputTokens] = [d('input'), d('cached_input')]
  const [outputTokens, reasoningOutputTokens] = [d('output'), d('reasoning_output')]
  return { inputTokens, outputTokens, cachedInputTokens, reasoningOutputTokens }
}

/** The `token_count` record RUN_SCRIPT prints before a resumed session's own lines. */
export const isPriorTotal = (line: Json) =>
  line.type === 'event_msg' && obj(line.payload).type === 'token_count'
