/**
 * Structured logging seen by the core and the adapters. One call is one JSON-able event:
 * a short message plus fields. Fields never hold secret values.
 */
export interface Logger {
  debug(msg: string, fields?: object): void
  info(msg: string, fields?: object): void
  warn(msg: string, fields?: object): void
  error(msg: string, fields?: object): void
}

/** A logger that drops everything; the default wherever a logger is optional. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}

/**
 * `line` (a JSON log line) with every secret value replaced by `[redacted]`: as is, JSON-escaped
 * (quotes, backslashes, control characters), and escaped twice (a field holding JSON text).
 * Values shorter than 6 characters are left alone: they would scrub ordinary words.
 */
export const redactSecrets = (line: string, secrets: readonly string[]): string => {
  let out = line
  for (const secret of secrets) {
    if (secret.length < 6) continue
    const once = JSON.stringify(secret).slice(1, -1)
    const twice = JSON.stringify(once).slice(1, -1)
    for (const form of new Set([twice, once, secret])) out = out.split(form).join('[redacted]')
  }
  return out
}
