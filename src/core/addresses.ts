/**
 * IP address classes for the egress proxy: which destinations are private (the host, its
 * Redis, other containers, the cloud metadata address) and the operator's exceptions. Every
 * address is handled as 16 bytes, IPv4 as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so one
 * table and one matcher serve both families and a mapped address is judged as the IPv4 it is.
 */

/** A parsed CIDR block (or single address) from `parseCidrs`. */
export interface Cidr {
  /** As the operator wrote it. */
  readonly text: string
  readonly bytes: Uint8Array
  /** Prefix length over the 16-byte form (an IPv4 /24 is 120). */
  readonly prefix: number
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const GROUP = /^[0-9a-f]{1,4}$/i

/** The 4 bytes of a dotted-quad IPv4 address; leading zeros are refused (octal in some parsers). */
export const ipv4Bytes = (text: string): number[] | undefined => {
  const m = IPV4.exec(text)
  if (!m) return undefined
  const parts = m.slice(1).map((p) => (p.length > 1 && p.startsWith('0') ? NaN : Number(p)))
  return parts.every((n) => n >= 0 && n <= 255) ? parts : undefined
}

const groupsOf = (text: string): number[] | undefined => {
  if (text === '') return []
  const groups: number[] = []
  for (const g of text.split(':')) {
    if (!GROUP.test(g)) return undefined
    groups.push(parseInt(g, 16))
  }
  return groups
}

/** The 16 bytes of an IPv6 address without brackets or zone; undefined when it is not one. */
export const ipv6Bytes = (text: string): Uint8Array | undefined => {
  let body = text
  if (body.includes('.')) {
    // An IPv4 address may end an IPv6 one (`::ffff:127.0.0.1`): it stands for the last two groups.
    const at = body.lastIndexOf(':')
    const v4 = at < 0 ? undefined : ipv4Bytes(body.slice(at + 1))
    if (!v4) return undefined
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16)
    body = `${body.slice(0, at + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`
  }
  const halves = body.split('::')
  if (halves.length > 2) return undefined
  const head = groupsOf(halves[0]!)
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (!head || !rest) return undefined
  const given = head.length + rest.length
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined
  const groups = [...head, ...Array<number>(8 - given).fill(0), ...rest]
  const bytes = new Uint8Array(16)
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8
    bytes[2 * i + 1] = g & 0xff
  })
  return bytes
}

/**
 * The 16 bytes of an IPv4 or IPv6 address (IPv6 with or without brackets; a zone such as
 * `%eth0` is ignored, as it does not change the address's class); undefined for anything else.
 */
export const ipBytes = (text: string): Uint8Array | undefined => {
  const v4 = ipv4Bytes(text)
  if (v4) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  return ipv6Bytes(bare.replace(/%[\w.-]+$/, ''))
}

/** Whether `text` is an IPv4 or IPv6 address literal. */
export const isIp = (text: string): boolean => ipBytes(text) !== undefined

/** RFC 5952 text of 16 IPv6 bytes: lowercase, no leading zeros, the longest zero run as `::`. */
export const formatIPv6 = (bytes: Uint8Array): string => {
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!)
  let best = { at: -1, len: 1 }
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.len) best = { at: i, len: j - i }
    i = j === i ? i + 1 : j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.at < 0) return hex.join(':')
  const left = hex.slice(0, best.at).join(':')
  const right = hex.slice(best.at + best.len).join(':')
  return `${left}::${right}`
}

const within = (bytes: Uint8Array, cidr: Cidr): boolean => {
  const whole = cidr.prefix >> 3
  for (let i = 0; i < whole; i++) if (bytes[i] !== cidr.bytes[i]) return false
  const bits = cidr.prefix & 7
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return (bytes[whole]! & mask) === (cidr.bytes[whole]! & mask)
}

const parseCidr = (entry: string): Cidr => {
  const [address = '', length, extra] = entry.split('/')
  const bytes = ipBytes(address)
  const v4 = ipv4Bytes(address) !== undefined
  if (!bytes || extra !== undefined || address.includes('%')) {
    throw new Error(`'${entry}' is not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)`)
  }
  const max = v4 ? 32 : 128
  const bits = length === undefined ? max : /^\d{1,3}$/.test(length) ? Number(length) : NaN
  if (!(bits <= max)) throw new Error(`'${entry}': the prefix length must be from 0 to ${max}`)
  const prefix = v4 ? bits + 96 : bits
  const hostBits = bytes.some(
    (b, i) => (b & (0xff >> Math.max(0, Math.min(8, prefix - 8 * i)))) !== 0,
  )
  // A block with host bits set is usually a typo for a narrower or a wider one: make it visible.
  if (hostBits) throw new Error(`'${entry}' has bits set beyond its prefix length /${bits}`)
  return { text: entry, bytes, prefix }
}

/**
 * Parses an operator's comma-separated list of CIDR blocks or single addresses
 * (`'127.0.0.1/32, 10.1.0.0/16, fd00::/8, 192.168.1.5'`). Throws an error naming the entry.
 */
export const parseCidrs = (list: string): Cidr[] =>
  list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map(parseCidr)

/** Whether the address `ip` lies in one of `cidrs`; false when `ip` is not an address. */
export const inCidrs = (ip: string, cidrs: readonly Cidr[]): boolean => {
  const bytes = ipBytes(ip)
  return bytes !== undefined && cidrs.some((c) => within(bytes, c))
}

// Not globally reachable (IANA special-purpose registries), or reaching this machine and its
// neighbours. IPv4 entries cover their IPv4-mapped IPv6 forms too.
const PRIVATE = parseCidrs(
  [
    '0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12',
    '192.0.0.0/24, 192.0.2.0/24, 192.168.0.0/16, 198.18.0.0/15, 198.51.100.0/24',
    '203.0.113.0/24, 224.0.0.0/4, 240.0.0.0/4',
    // Unspecified, loopback and the deprecated IPv4-compatible block; discard-only; Teredo and
    // documentation; unique local; link-local; site-local; multicast; local-use NAT64.
    '::/96, 100::/64, 2001::/32, 2001:db8::/32, fc00::/7, fe80::/10, fec0::/10, ff00::/8',
    '64:ff9b:1::/48',
  ].join(','),
)

// IPv6 blocks that carry an IPv4 address a gateway may translate to: judged by that address.
const EMBEDDING: { cidr: Cidr; at: number }[] = [
  { cidr: parseCidr('64:ff9b::/96'), at: 12 }, // NAT64
  { cidr: parseCidr('2002::/16'), at: 2 }, // 6to4
]

/**
 * Whether a destination address is private: loopback, RFC 1918, link-local (with the cloud
 * metadata address 169.254.169.254), CGNAT, multicast, broadcast, reserved, IPv6 loopback,
 * unspecified, unique local, link-local and multicast, and IPv4 behind IPv4-mapped, NAT64 or
 * 6to4 IPv6 forms. Anything that is not an address counts as private: callers fail closed.
 */
export const isPrivateAddress = (ip: string): boolean => {
  const bytes = ipBytes(ip)
  if (!bytes) return true
  if (PRIVATE.some((c) => within(bytes, c))) return true
  const embedding = EMBEDDING.find((e) => within(bytes, e.cidr))
  if (!embedding) return false
  return isPrivateAddress(Array.from(bytes.slice(embedding.at, embedding.at + 4)).join('.'))
}
