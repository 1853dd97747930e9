import type { NoResult } from './schema.ts'

/**
 * Helpers for the part of an agent plugin that is the CLI's own: reading its JSON output. What
 * every agent needs besides (a setting reader, prompt delivery, config files as objects, the
 * failure message of a run without a result) the core does, from the plugin's declarations.
 */

/** A JSON object as read from a CLI's output. */
export type Json = Record<string, unknown>

/**
 * Prompts larger than this go through stdin when a plugin's `promptVia` is `auto`: Linux refuses
 * one argv string over 128 KiB.
 */
export const MAX_ARGV_PROMPT_BYTES = 100_000

/** `v` when it is a finite number, else 0: for token counts a CLI may leave out. */
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** `v` when it is a string, else undefined: for ids and texts a CLI may leave out. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** `v` when it is an object, else an empty one: for walking nested JSON a CLI may leave out. */
export const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {}

/**
 * What `parse` returns when the CLI gave no result: the core writes the message ("timed out
 * after …", "exited N without a result: <what it printed>"), with `detail` (the CLI's last
 * error) when given.
 * @example
 * parse: (out) => lastJson(out.stdout, (v) => v.type === 'result') ?? noResult()
 */
export const noResult = (detail?: string): NoResult =>
  detail ? { noResult: true, detail } : { noResult: true }

const parseObject = (text: string): Json | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Json)
      : undefined
  } catch {
    // Not JSON, or a line cut off by the output cap.
    return undefined
  }
}

/**
 * Every line of `text` that is a JSON object (JSON lines, stream-json), in order. Other lines
 * (logs, a line cut off by the output cap) are skipped.
 */
export const jsonLines = <T = Json>(text: string): T[] =>
  text.split('\n').flatMap((line) => {
    const value = line.trimStart().startsWith('{') ? parseObject(line) : undefined
    return value ? [value as T] : []
  })

/**
 * The last JSON object in `text` that `match` accepts: one on a line of its own, or one
 * pretty-printed from a line `{` to the next line `}`. Log lines and cut-off lines are skipped.
 * @example
 * const result = lastJson<ResultLine>(out.stdout, (v) => v.type === 'result')
 */
export const lastJson = <T = Json>(
  text: string,
  match: (value: Json) => boolean = () => true,
): T | undefined => {
  const lines = text.split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (!line.startsWith('{')) continue
    const end = line === '{' ? lines.findIndex((l, j) => j > i && l.trimEnd() === '}') : i
    const value = end < 0 ? undefined : parseObject(lines.slice(i, end + 1).join('\n'))
    if (value && match(value)) return value as T
  }
  return undefined
}

/** Tool output longer than this goes into an agent update cut (the whole stays in `output`). */
export const MAX_TOOL_TEXT_BYTES = 8 * 1024

const utf8 = new TextEncoder()

/**
 * `text` within `max` bytes of UTF-8: a longer one is cut on a character boundary and ends
 * with a marker saying how many bytes were left out. For tool output in agent updates.
 */
export const cutText = (text: string, max = MAX_TOOL_TEXT_BYTES): string => {
  const bytes = utf8.encode(text)
  if (bytes.length <= max) return text
  // A character cut in two decodes to U+FFFD at the end: dropped.
  const kept = new TextDecoder().decode(bytes.subarray(0, max)).replace(/\uFFFD$/, '')
  return `${kept}\n… [${bytes.length - utf8.encode(kept).length} more bytes cut]`
}
