/**
 * Errors the core raises. Each has a stable `code` (what callers switch on) and the HTTP
 * `status` it maps to; both adapters (HTTP, Redis) render them as
 * `{ error: { code, message, details? } }`.
 */
export class SpawnerError extends Error {
  readonly code: string
  readonly status: number
  readonly details?: unknown

  constructor(code: string, status: number, message: string, details?: unknown) {
    super(message)
    this.name = this.constructor.name
    this.code = code
    this.status = status
    if (details !== undefined) this.details = details
  }

  toJSON(): { code: string; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

/** 400: the request is malformed or names something invalid. */
export class BadRequestError extends SpawnerError {
  constructor(message: string, details?: unknown, code = 'bad_request') {
    super(code, 400, message, details)
  }
}

/** 404: no such worker, plugin or file. */
export class NotFoundError extends SpawnerError {
  constructor(message: string, code = 'not_found') {
    super(code, 404, message)
  }
}

/** 409: the worker is in a state that does not allow the operation. */
export class ConflictError extends SpawnerError {
  constructor(message: string, code = 'conflict') {
    super(code, 409, message)
  }
}

/** 413: a body or file over the configured cap. */
export class PayloadTooLargeError extends SpawnerError {
  constructor(message: string) {
    super('payload_too_large', 413, message)
  }
}

/** 503: Docker (or another dependency) cannot be reached. */
export class UnavailableError extends SpawnerError {
  constructor(message: string, code = 'unavailable') {
    super(code, 503, message)
  }
}

/** Turns any thrown value into a SpawnerError without leaking internals or stack traces. */
export const toSpawnerError = (err: unknown): SpawnerError => {
  if (err instanceof SpawnerError) return err
  return new SpawnerError('internal', 500, 'internal error')
}

/** 401: no credentials, or credentials that do not check out. */
export class UnauthorizedError extends SpawnerError {
  constructor(message: string) {
    super('unauthorized', 401, message)
  }
}

/** 403: known caller, not allowed to do this. */
export class ForbiddenError extends SpawnerError {
  constructor(message: string, code = 'forbidden') {
    super(code, 403, message)
  }
}
