const enc = new TextEncoder()

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')

const fromHex = (text: string): Uint8Array | undefined => {
  if (!/^(?:[0-9a-f]{2})+$/.test(text)) return undefined
  return Uint8Array.from(text.match(/../g)!, (h) => parseInt(h, 16))
}

/**
 * HMAC-SHA256 on Web Crypto (Node and workerd) over text a `purpose` prefix keeps apart from
 * every other use of the same key.
 * @example
 * const mac = new Mac(secret, 'worker state v2')
 * const tag = await mac.sign(text)
 * await mac.verify(text, tag) // true
 */
export class Mac {
  private readonly key: Promise<CryptoKey>

  constructor(
    secret: string | Uint8Array,
    private readonly purpose: string,
  ) {
    const raw = typeof secret === 'string' ? enc.encode(secret) : secret
    if (raw.length < 16) throw new Error('MAC key must be at least 16 bytes')
    this.key = crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )
  }

  private input(text: string) {
    return enc.encode(`workers-spawner ${this.purpose}\n${text}`)
  }

  /** The tag of `text`, as hex. */
  async sign(text: string): Promise<string> {
    return hex(new Uint8Array(await crypto.subtle.sign('HMAC', await this.key, this.input(text))))
  }

  /** True when `tag` is the tag of `text` (compared in constant time by Web Crypto). */
  async verify(text: string, tag: string): Promise<boolean> {
    const bytes = fromHex(tag)
    if (!bytes) return false
    return crypto.subtle.verify(
      'HMAC',
      await this.key,
      bytes as Uint8Array<ArrayBuffer>,
      this.input(text),
    )
  }
}
