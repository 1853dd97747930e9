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
