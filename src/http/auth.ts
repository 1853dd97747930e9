import type { Context, MiddlewareHandler } from 'hono'
import { sameSecret } from '../core/auth/same-secret.ts'
import type { Principal } from '../core/auth/authorize.ts'
import type { TokenSigner } from '../core/auth/jwt.ts'
import { NotFoundError, UnauthorizedError } from '../core/errors.ts'
import type { WorkerService } from '../core/service.ts'
import { getCookie } from 'hono/cookie'
import { fromOwnPage, SESSION_COOKIE, validSession } from '../ui/session.ts'

/** Hono env of the app: the authenticated caller rides on the context. */
export type AppEnv = { Variables: { principal: Principal } }

export interface AuthOptions {
  /** SPAWNER_API_TOKEN: its bearer is an operator. */
  apiToken?: string
  /** Checks worker tokens (ORCHESTRATOR_TOKEN). */
  signer?: TokenSigner
  /** Refuse unauthenticated calls even without an API token (the listener workers reach). */
  required?: boolean
  service: WorkerService
}

/**
 * Works out who is calling. `Authorization: Bearer <SPAWNER_API_TOKEN>` is an operator; a
 * worker token is that worker (while it exists). Without an API token configured, an
 * unauthenticated caller is an operator — the service then listens on loopback only. The
 * dashboard's session cookie is an operator too, but only on requests its own pages send
 * (see `fromOwnPage`): browsers cannot put a bearer on EventSource or WebSocket requests.
 */
export const authenticate = (opts: AuthOptions): MiddlewareHandler<AppEnv> =>
  async function authenticate(c, next) {
    const header = c.req.header('authorization')
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1]
    if (!bearer) {
      if (opts.apiToken && (await sessionOf(c, opts.apiToken))) {
        c.set('principal', { kind: 'operator' })
        return next()
      }
      if (opts.apiToken || opts.required) {
        throw new UnauthorizedError(
          header
            ? 'Authorization must be "Bearer <token>"'
            : 'missing Authorization: Bearer <token>',
        )
      }
      c.set('principal', { kind: 'operator' })
      return next()
    }
    if (opts.apiToken && sameSecret(bearer, opts.apiToken)) {
      c.set('principal', { kind: 'operator' })
      return next()
    }
    if (!opts.signer || bearer.split('.').length !== 3) throw new UnauthorizedError('invalid token')
    const claims = await opts.signer.verify(bearer)
    try {
      await opts.service.get(claims.sub)
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new UnauthorizedError(`token of worker '${claims.sub}', which no longer exists`)
      throw err
    }
    c.set('principal', { kind: 'worker', workerId: claims.sub, tools: claims.tools })
    return next()
  }

/** Whether the request carries a valid dashboard session, sent by the dashboard itself. */
const sessionOf = async (c: Context, apiToken: string) => {
  const value = getCookie(c, SESSION_COOKIE)
  if (value === undefined) return false
  const own = fromOwnPage({
    site: c.req.header('sec-fetch-site'),
    origin: c.req.header('origin'),
    host: new URL(c.req.url).host,
  })
  return own && (await validSession(apiToken, value))
}

export const principalOf = (c: Context<AppEnv>): Principal =>
  c.get('principal') ?? { kind: 'operator' }
