import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  SpawnerError,
  UnavailableError,
} from '../core/errors.ts'

/** The error body of the core and the host agent. */
interface WireError {
  code: string
  message: string
  details?: unknown
}

const asWireError = (body: unknown): WireError | undefined => {
  const error = (body as { error?: unknown } | null)?.error as Partial<WireError> | undefined
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') return undefined
  return error as WireError
}

/**
 * Rebuilds the SpawnerError a host agent answered, as the class the core would have thrown
 * in-process (404 → NotFoundError, 409 → ConflictError, …), code and message unchanged.
 * A refused token is the core's misconfiguration, not its caller's: it becomes a 503
 * `host_agent_unauthorized`. A body that is not the error shape (a proxy's page) or an
 * unknown route (an agent of another version) becomes a 502 `host_agent_error`.
 */
export const errorFromWire = (status: number, body: unknown, agent: string): SpawnerError => {
  const e = asWireError(body)
  if (!e) return new SpawnerError('host_agent_error', 502, `host agent ${agent} answered ${status}`)
  if (status === 401 || status === 403) {
    return new UnavailableError(
      `host agent ${agent} refused the token (${e.message}): check HOST_AGENT_TOKEN`,
      'host_agent_unauthorized',
    )
  }
  if (e.code === 'route_not_found') {
    return new SpawnerError(
      'host_agent_error',
      502,
      `host agent ${agent}: ${e.message} (is it the same version as the core?)`,
    )
  }
  switch (status) {
    case 400:
      return new BadRequestError(e.message, e.details, e.code)
    case 404:
      return new NotFoundError(e.message, e.code)
    case 409:
      return new ConflictError(e.message, e.code)
    case 413:
      return new PayloadTooLargeError(e.message)
    case 503:
      return new UnavailableError(e.message, e.code)
    default:
      return new SpawnerError(e.code, status, e.message, e.details)
  }
}
