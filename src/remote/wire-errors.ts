import { errorOfCode, isErrorCode, SpawnerError, UnavailableError } from '../core/errors.ts'

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
 * in-process (`no_such_container` → NotFoundError, …), code, message and details unchanged; the
 * answer is its `cause`. A refused token is the core's misconfiguration, not its caller's: it
 * becomes a 503 `host_agent_unauthorized`. A body that is not the error shape (a proxy's page),
 * an unknown route or a code the core does not know (an agent of another version) becomes a 502
 * `host_agent_error`.
 */
export const errorFromWire = (status: number, body: unknown, agent: string): SpawnerError => {
  const e = asWireError(body)
  const cause = { cause: e ?? body }
  if (!e) {
    return new SpawnerError('host_agent_error', `host agent ${agent} answered ${status}`, cause)
  }
  if (status === 401 || status === 403) {
    return new UnavailableError(
      `host agent ${agent} refused the token (${e.message}): check HOST_AGENT_TOKEN`,
      'host_agent_unauthorized',
      cause,
    )
  }
  if (e.code === 'route_not_found' || !isErrorCode(e.code)) {
    const what = isErrorCode(e.code) ? e.message : `${e.message} (code '${e.code}')`
    return new SpawnerError(
      'host_agent_error',
      `host agent ${agent}: ${what} (is it the same version as the core?)`,
      cause,
    )
  }
  const details = e.details === undefined ? {} : { details: e.details }
  return errorOfCode(e.code, e.message, { ...details, ...cause })
}
