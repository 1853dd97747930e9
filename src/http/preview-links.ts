import { Mac } from '../core/auth/mac.ts'

/** Where preview links live: `/previews/<workerId>/<port>/<expiry>.<tag>/…`. */
export const PREVIEW_LINK_ROOT = '/previews'

/** A preview link's parts, as its path carries them. */
export interface PreviewGrant {
  workerId: string
  port: number
  /** Unix seconds after which the link is refused. */
  expires: number
}

/**
 * Signs and checks preview links: an HMAC over the worker id, the port and the expiry, with
 * the service's token key under a purpose of its own (see `Mac`), so no worker token, state
 * tag or anything a worker holds can stand for one, and no worker can make one.
 * @example
 * const links = new PreviewLinks(secret)
 * const path = await links.path({ workerId, port: 3000, expires: now + 3600 })
 * await links.check(workerId, 3000, path.split('/')[4]!) // true until then
 */
export class PreviewLinks {
  readonly #mac: Mac

  constructor(secret: string | Uint8Array) {
    this.#mac = new Mac(secret, 'preview link v1')
  }

  #text(g: PreviewGrant) {
    return `${g.workerId}\n${g.port}\n${g.expires}`
  }

  /** The link's credential: `<expiry>.<tag>`. */
  async credential(g: PreviewGrant): Promise<string> {
    return `${g.expires}.${await this.#mac.sign(this.#text(g))}`
  }

  /** The link's path, ending in `/` so the page's relative URLs stay under it. */
  async path(g: PreviewGrant): Promise<string> {
    return `${PREVIEW_LINK_ROOT}/${g.workerId}/${g.port}/${await this.credential(g)}/`
  }

  /**
   * Whether `credential` was made for this worker and port and has not expired at `now`
   * (unix seconds). A deleted worker's links are refused by the caller, which looks it up.
   */
  async check(
    workerId: string,
    port: number,
    credential: string,
    now = Math.floor(Date.now() / 1000),
  ): Promise<boolean> {
    const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(credential)
    if (!m) return false
    const expires = Number(m[1])
    if (!(expires > now)) return false
    return this.#mac.verify(this.#text({ workerId, port, expires }), m[2]!)
  }
}
