import { z } from 'zod'

/** Columns and rows a terminal may have: what a very large screen shows, and at least one. */
const dimension = (max: number) => z.coerce.number().int().min(1).max(max)
const cols = dimension(1000)
const rows = dimension(500)

/**
 * What a client sends, as JSON text frames: keystrokes (`input`) and a new size (`resize`).
 * Binary frames are not part of the protocol; the server ignores them.
 */
export const terminalClientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string() }),
  z.object({ type: z.literal('resize'), cols, rows }),
])
export type TerminalClientFrame = z.infer<typeof terminalClientFrameSchema>

/** The one JSON text frame the server sends: the shell ended, with this code; the close follows. */
export const terminalExitFrameSchema = z.object({ type: z.literal('exit'), code: z.number().int() })
export type TerminalExitFrame = z.infer<typeof terminalExitFrameSchema>

/** The query of `GET /v1/workers/:id/terminal`: the initial size (default 80×24). */
export const terminalQuerySchema = z.object({
  cols: cols.default(80),
  rows: rows.default(24),
})

/**
 * Close codes the server uses. Refusals that come after the upgrade use 4000 + the HTTP status
 * the same refusal would have had, with `<error code>: <message>` as the reason.
 */
export const TERMINAL_CLOSE = {
  /** The shell exited (after the `exit` frame). */
  exited: 1000,
  /** The service is shutting down. */
  goingAway: 1001,
  /** Something failed on the server's side. */
  internal: 1011,
  /** No input and no output for TERMINAL_IDLE_SECONDS. */
  idle: 4408,
} as const

/** A close reason fits in 123 bytes (RFC 6455); longer ones are cut, never split inside a character. */
export const closeReason = (text: string): string => {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length <= 123) return text
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, '') + '...'
}

/**
 * A client frame, or undefined for anything else (not JSON, unknown type, bad size): one stray
 * frame is not worth closing an operator's shell over.
 */
export const parseClientFrame = (text: string): TerminalClientFrame | undefined => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = terminalClientFrameSchema.safeParse(raw)
  return parsed.success ? parsed.data : undefined
}
