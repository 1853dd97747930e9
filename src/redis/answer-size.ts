import { PayloadTooLargeError, type SpawnerError } from '../core/errors.ts'

type Answer = { ok: true; result: unknown } | { ok: false; error: SpawnerError }

/** A command's output as send_command returns it: the streams that may be cut. */
type Output = { stdout: string; stderr: string; truncated?: boolean }

const isOutput = (r: unknown): r is Output =>
  typeof r === 'object' &&
  r !== null &&
  typeof (r as Output).stdout === 'string' &&
  typeof (r as Output).stderr === 'string'

/**
 * Bytes of `value` as the answer key holds it: the `result` field is JSON, and the key holds
 * the fields JSON-encoded once more. The response stream's copy is never larger.
 */
export const storedBytes = (value: unknown) =>
  Buffer.byteLength(JSON.stringify(JSON.stringify(value)))

/** Bytes a string takes inside a stored result: its stored size without the outer quotes. */
const embeddedBytes = (s: string) => storedBytes(s) - 2

/** Bytes a character costs once JSON-encoded twice (`\u0001` → `\\u0001`, `"` → `\\\"`). */
const cost = (c: number, next: number): [bytes: number, width: number] => {
  if (c === 0x22 || c === 0x5c) return [4, 1]
  if (c < 0x20) return [c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 3 : 7, 1]
  if (c < 0x80) return [1, 1]
  if (c < 0x800) return [2, 1]
  if (c >= 0xd800 && c <= 0xdbff) return next >= 0xdc00 && next <= 0xdfff ? [4, 2] : [7, 1]
  if (c >= 0xdc00 && c <= 0xdfff) return [7, 1]
  return [3, 1]
}

/**
 * The longest head of `s` that takes at most `budget` bytes JSON-encoded twice, its quotes
 * (`\"…\"`) included. One pass; a surrogate pair is never split.
 */
export const storedHead = (s: string, budget: number): string => {
  let used = 4
  let i = 0
  while (i < s.length) {
    const [bytes, width] = cost(s.charCodeAt(i), s.charCodeAt(i + 1))
    if (used + bytes > budget) break
    used += bytes
    i += width
  }
  return s.slice(0, i)
}

/**
 * Keeps an answer's stored size within `maxBytes`. A command's stdout and stderr are cut to fit
 * (the head of each is kept, as the runtime keeps it, and `truncated` is set); any other
 * answer still too large becomes `payload_too_large`, which says how to ask for less.
 */
export const fitAnswer = (answer: Answer, maxBytes: number, command = 'command'): Answer => {
  if (!answer.ok) return answer
  const size = storedBytes(answer.result)
  if (size <= maxBytes) return answer
  const r = answer.result
  if (isOutput(r)) {
    // What the rest of the result takes, with both streams empty (`\"\"` each).
    const budget = maxBytes - (storedBytes({ ...r, stdout: '', stderr: '', truncated: true }) - 8)
    if (budget >= 8) {
      // Half each; what one stream leaves unused goes to the other.
      const half = Math.floor(budget / 2)
      const err = embeddedBytes(r.stderr)
      const stdout = storedHead(r.stdout, err <= half ? budget - err : half)
      const stderr = storedHead(r.stderr, budget - embeddedBytes(stdout))
      return { ok: true, result: { ...r, stdout, stderr, truncated: true } }
    }
  }
  return {
    ok: false,
    error: new PayloadTooLargeError(
      `the ${command} answer is ${size} bytes, more than a Redis answer may hold (${maxBytes}, ` +
        'REDIS_MAX_ANSWER_BYTES): ask for less (a smaller file, fewer log lines with tail, less output) ' +
        'or use the HTTP API',
    ),
  }
}
