import type { ErrorCode, ErrorKind } from './error-codes.ts'
import { kindOf } from './error-codes.ts'

/**
 * The HTTP status of each kind of failure: the one table every edge (the HTTP API, the host
 * agent and its wire, the Redis answers' `status`) reads.
 */
export const HTTP_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  too_many: 429,
  // Not a standard status: the de facto one for a client that closed its request.
  cancelled: 499,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
} as const satisfies Record<ErrorKind, number>

/**
 * The HTTP status an error (or a code) is answered with.
 *
 * @example
 * httpStatusOf(new NotFoundError('no such file: /x')) // 404
 */
export const httpStatusOf = (err: { readonly kind: ErrorKind } | ErrorCode): number =>
  HTTP_STATUS[typeof err === 'string' ? kindOf(err) : err.kind]
