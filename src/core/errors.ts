import { type CodeOf, type ErrorCode, type ErrorKind, kindOf } from './error-codes.ts'

export { type CodeOf, type ErrorCode, type ErrorKind, isErrorCode } from './error-codes.ts'

/** Options of an error: what the answer carries besides the message, and what caused it. */
export interface SpawnerErrorOptions {
  /** Shown to the caller (field paths, exit codes): nothing internal. */
  details?: unknown
  /** The error this one stands for: kept for the logs, never answered. */
  cause?: unknown
}

/**
 * Errors the service raises. Each has a stable `code` from `ERROR_CODES` (what callers switch
 * on) and the `kind` of failure that code is; the edges decide the status (`httpStatusOf`) and
 * render `{ error: { code, message, details? } }`. The `cause` stays out of that answer.
 */
export class SpawnerError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorKind
  readonly details?: unknown

  constructor(code: ErrorCode, message: string, options: SpawnerErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined)
    this.name = this.constructor.name
    this.code = code
    this.kind = kindOf(code)
    if (options.details !== undefined) this.details = options.details
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

/** The options of BadRequestError, which takes its details before its code. */
type CauseOnly = Pick<SpawnerErrorOptions, 'cause'>

/** 400: the request is malformed or names something invalid. */
export class BadRequestError extends SpawnerError {
  constructor(
    message: string,
    details?: unknown,
    code: CodeOf<'bad_request'> = 'bad_request',
    options: CauseOnly = {},
  ) {
    super(code, message, { ...options, details })
  }
}

/** 401: no credentials, or credentials that do not check out. */
export class UnauthorizedError extends SpawnerError {
  constructor(message: string, options: SpawnerErrorOptions = {}) {
    super('unauthorized', message, options)
  }
}

/** 403: known caller, not allowed to do this. */
export class ForbiddenError extends SpawnerError {
  constructor(
    message: string,
    code: CodeOf<'forbidden'> = 'forbidden',
    options: SpawnerErrorOptions = {},
  ) {
    super(code, message, options)
  }
}

/** 404: no such worker, plugin or file. */
export class NotFoundError extends SpawnerError {
  constructor(
    message: string,
    code: CodeOf<'not_found'> = 'not_found',
    options: SpawnerErrorOptions = {},
  ) {
    super(code, message, options)
  }
}

/** 409: the worker is in a state that does not allow the operation. */
export class ConflictError extends SpawnerError {
  constructor(
    message: string,
    code: CodeOf<'conflict'> = 'conflict',
    options: SpawnerErrorOptions = {},
  ) {
    super(code, message, options)
  }
}

/** 413: a body or file over the configured cap. */
export class PayloadTooLargeError extends SpawnerError {
  constructor(message: string, options: SpawnerErrorOptions = {}) {
    super('payload_too_large', message, options)
  }
}

/** 503: Docker (or another dependency) cannot be reached. */
export class UnavailableError extends SpawnerError {
  constructor(
    message: string,
    code: CodeOf<'unavailable'> = 'unavailable',
    options: SpawnerErrorOptions = {},
  ) {
    super(code, message, options)
  }
}

/**
 * Turns any thrown value into a SpawnerError without leaking internals or stack traces: the
 * answer says `internal error`, the original stays the `cause` for the logs.
 */
export const toSpawnerError = (err: unknown): SpawnerError => {
  if (err instanceof SpawnerError) return err
  return new SpawnerError('internal', 'internal error', { cause: err })
}

/**
 * The error of the class this code's kind has, as the side that raised it would have thrown
 * it in-process: a NotFoundError stays a NotFoundError across the host agent's wire and a
 * forwarded Redis request.
 */
export const errorOfCode = (
  code: ErrorCode,
  message: string,
  options: SpawnerErrorOptions = {},
): SpawnerError => {
  // The casts are what the switch proves: the code is of the case's kind.
  switch (kindOf(code)) {
    case 'bad_request': {
      const { details, ...cause } = options
      return new BadRequestError(message, details, code as CodeOf<'bad_request'>, cause)
    }
    case 'unauthorized':
      return new UnauthorizedError(message, options)
    case 'forbidden':
      return new ForbiddenError(message, code as CodeOf<'forbidden'>, options)
    case 'not_found':
      return new NotFoundError(message, code as CodeOf<'not_found'>, options)
    case 'conflict':
      return new ConflictError(message, code as CodeOf<'conflict'>, options)
    case 'too_large':
      return new PayloadTooLargeError(message, options)
    case 'unavailable':
      return new UnavailableError(message, code as CodeOf<'unavailable'>, options)
    default:
      return new SpawnerError(code, message, options)
  }
}

/**
 * What an error and the causes under it say, for a log line:
 * `docker: no such image ← (HTTP code 404) …`. Never for an answer: a cause may name paths,
 * hosts or a dependency's internals (the logger still scrubs secret values).
 */
export const describeError = (err: unknown): string => {
  const parts: string[] = []
  const seen = new Set<unknown>()
  let at: unknown = err
  while (at !== undefined && !seen.has(at) && parts.length < 5) {
    seen.add(at)
    parts.push(at instanceof Error ? at.message : textOf(at))
    at = at instanceof Error ? at.cause : undefined
  }
  return parts.join(' ← ')
}

const textOf = (value: unknown): string => {
  if (typeof value !== 'object' || value === null) return String(value)
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}
