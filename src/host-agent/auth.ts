import type { MiddlewareHandler } from 'hono'
import { UnauthorizedError } from '../core/errors.ts'
import { sameSecret } from '../core/auth/same-secret.ts'

/**
 * Requires `Authorization: Bearer <token>`. Without a token every call passes: the entry
 * allows that only on loopback with `HOST_AGENT_INSECURE=1`.
 */
export const bearerAuth = (token: string | undefined): MiddlewareHandler =>
  async function bearerAuth(c, next) {
    if (token === undefined) return next()
    const header = c.req.header('authorization')
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1]
    if (!bearer) throw new UnauthorizedError('missing Authorization: Bearer <HOST_AGENT_TOKEN>')
    if (!sameSecret(bearer, token)) throw new UnauthorizedError('invalid host agent token')
    return next()
  }
