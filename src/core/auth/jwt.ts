import { z } from 'zod'
import { UnauthorizedError } from '../errors.ts'
import { workerIdSchema } from '../schemas.ts'
import { bytesToBase64 } from '../bytes.ts'

/** The claims of a worker token. */
export const workerClaimsSchema = z.object({
  iss: z.literal('workers-spawner'),
  // A worker id, checked: the subject is looked up in the engine by label before anything else.
  sub: workerIdSchema,
  tools: z.array(z.string()).describe('allowedTools'),
  iat: z.number().int(),
  exp: z.number().int().describe('the worker TTL, unix seconds'),
})
export type WorkerClaims = z.infer<typeof workerClaimsSchema>

const b64url = (bytes: Uint8Array) =>
  bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const fromB64url = (s: string) => {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4))
  return Uint8Array.from(bin, (c) => c.charCodeAt(0))
}
const enc = new TextEncoder()
const HEADER = b64url(enc.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))

/**
 * HS256 JSON Web Tokens on Web Crypto (runs in Node and in workerd). Signs and checks the
 * tokens workers carry in `ORCHESTRATOR_TOKEN`.
 */
export class TokenSigner {
  private readonly key: Promise<CryptoKey>

  constructor(secret: string | Uint8Array) {
    const raw = typeof secret === 'string' ? enc.encode(secret) : secret
    if (raw.length < 16) throw new Error('token secret must be at least 16 bytes')
    this.key = crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )
  }

  async sign(claims: Omit<WorkerClaims, 'iss' | 'iat'> & { iat?: number }): Promise<string> {
    const body: WorkerClaims = {
      iss: 'workers-spawner',
      iat: claims.iat ?? Math.floor(Date.now() / 1000),
      sub: claims.sub,
      tools: claims.tools,
      exp: claims.exp,
    }
    const payload = b64url(enc.encode(JSON.stringify(body)))
    const sig = new Uint8Array(
      await crypto.subtle.sign('HMAC', await this.key, enc.encode(`${HEADER}.${payload}`)),
    )
    return `${HEADER}.${payload}.${b64url(sig)}`
  }

  /** The token's claims; throws UnauthorizedError when it is malformed, forged or expired. */
  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<WorkerClaims> {
    const parts = token.split('.')
    if (parts.length !== 3 || parts[0] !== HEADER) throw new UnauthorizedError('malformed token')
    let sig: Uint8Array
    try {
      sig = fromB64url(parts[2]!)
    } catch {
      throw new UnauthorizedError('malformed token')
    }
    const ok = await crypto.subtle.verify(
      'HMAC',
      await this.key,
      sig as Uint8Array<ArrayBuffer>,
      enc.encode(`${parts[0]}.${parts[1]}`),
    )
    if (!ok) throw new UnauthorizedError('invalid token signature')
    let claims: WorkerClaims
    try {
      claims = workerClaimsSchema.parse(JSON.parse(new TextDecoder().decode(fromB64url(parts[1]!))))
    } catch {
      throw new UnauthorizedError('malformed token claims')
    }
    if (claims.exp <= nowSeconds) throw new UnauthorizedError('token expired')
    return claims
  }
}
