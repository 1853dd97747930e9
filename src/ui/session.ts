/**
 * The dashboard's session cookie: an expiry and an HMAC of it keyed with SPAWNER_API_TOKEN.
 * The token itself never leaves the login form; the cookie proves the operator knew it, until
 * it expires or the token changes. Web Crypto only, so the app stays runtime-neutral.
 */

/** The cookie's name. */
export const SESSION_COOKIE = 'spawner_session'

/** How long a login lasts. */
export const SESSION_SECONDS = 12 * 3600

const encoder = new TextEncoder()

const b64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

const keys = new Map<string, Promise<CryptoKey>>()
const keyOf = (token: string) => {
  let key = keys.get(token)
  if (!key) {
    key = crypto.subtle.importKey(
      'raw',
      encoder.encode(token),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    keys.set(token, key)
  }
  return key
}

const mac = async (token: string, expires: number) =>
  b64url(
    await crypto.subtle.sign(
      'HMAC',
      await keyOf(token),
      encoder.encode(`workers-spawner dashboard session v1 ${expires}`),
    ),
  )

/** A fresh session value for the token, valid `SESSION_SECONDS` from `now`. */
export const issueSession = async (token: string, now = Date.now()): Promise<string> => {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS
  return `v1.${expires}.${await mac(token, expires)}`
}

/** Whether `value` is a session the token issued that has not expired. */
export const validSession = async (
  token: string,
  value: string | undefined,
  now = Date.now(),
): Promise<boolean> => {
  const m = value?.match(/^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/)
  if (!m) return false
  const expires = Number(m[1])
  if (expires * 1000 <= now) return false
  const expected = await mac(token, expires)
  // Same length by construction; compared in full so timing tells nothing.
  let diff = 0
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ m[2]!.charCodeAt(i)
  return diff === 0
}

/**
 * Whether the browser says the request comes from the service's own pages. A cookie rides
 * along on anything the browser sends to this host, so it counts only with this proof:
 * `Sec-Fetch-Site: same-origin`, or (browsers without Fetch Metadata) an `Origin` equal to
 * the request's own host.
 */
export const fromOwnPage = (headers: {
  site: string | undefined
  origin: string | undefined
  host: string
}): boolean => {
  if (headers.site !== undefined) return headers.site === 'same-origin'
  if (headers.origin === undefined) return false
  try {
    return new URL(headers.origin).host === headers.host
  } catch {
    return false
  }
}
