import { z } from 'zod'
import { formatIPv6, ipv4Bytes, ipv6Bytes } from './addresses.ts'

export { type Cidr, inCidrs, isIp, isPrivateAddress, parseCidrs } from './addresses.ts'

/**
 * One entry of a worker's network allowlist, parsed: any host, any subdomain of `name` (not
 * `name` itself), or exactly one host (a DNS name, an IPv4 address or a bracketed IPv6 one);
 * without a port it allows every port.
 */
type Pattern = (
  { kind: 'any' } | { kind: 'subdomains'; name: string } | { kind: 'exact'; host: string }
) & { port?: number }

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

/** Why `name` (lowercase, no trailing dot) is not a DNS name; undefined when it is one. */
const dnsNameProblem = (name: string): string | undefined => {
  if (name.length > 253) return 'the name is longer than 253 characters'
  const labels = name.split('.')
  if (labels.some((l) => !LABEL.test(l))) {
    return 'a host name is dot-separated labels of letters, digits and inner hyphens (1–63 each)'
  }
  // No top-level domain is numeric, so a numeric last label means an IPv4 address was meant.
  if (/^\d+$/.test(labels.at(-1)!)) return 'not a valid IPv4 address (a.b.c.d, each 0–255)'
  return undefined
}

const hostOrProblem = (raw: string): { host: string } | { problem: string } => {
  if (raw.startsWith('[')) {
    const bytes = raw.endsWith(']') ? ipv6Bytes(raw.slice(1, -1)) : undefined
    return bytes ? { host: `[${formatIPv6(bytes)}]` } : { problem: 'not a valid IPv6 address' }
  }
  const name = raw.toLowerCase().replace(/\.$/, '')
  if (ipv4Bytes(name)) return { host: name }
  const problem = dnsNameProblem(name)
  return problem ? { problem } : { host: name }
}

/**
 * The canonical form of a destination host: a lowercase DNS name without trailing dot, a
 * dotted-quad IPv4 address or a bracketed RFC 5952 IPv6 address (brackets optional on input);
 * undefined when `host` is none of these (the proxy answers 400).
 */
export const normalizeHost = (host: string): string | undefined => {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const found = hostOrProblem(bracketed)
  return 'host' in found ? found.host : undefined
}

const parsePattern = (entry: string): Pattern | string => {
  if (entry === '') return 'it is empty'
  if (/\s/.test(entry)) return 'it must not contain spaces'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry))
    return "give a host, not a URL (no scheme such as 'https://')"
  if (entry.includes('/')) return 'it must not contain a path'
  if (/[@?#%]/.test(entry)) return "it must not contain '@', '?', '#' or '%'"
  let hostPart = entry
  let portPart: string | undefined
  const close = entry.lastIndexOf(']')
  const colon = entry.lastIndexOf(':')
  if (entry.startsWith('[') ? colon > close : colon >= 0) {
    if (!entry.startsWith('[') && entry.indexOf(':') !== colon) {
      return 'an IPv6 address must be in brackets, e.g. [2001:db8::1]:443'
    }
    hostPart = entry.slice(0, colon)
    portPart = entry.slice(colon + 1)
  }
  let port: number | undefined
  if (portPart !== undefined) {
    port = /^\d{1,5}$/.test(portPart) ? Number(portPart) : NaN
    if (!(port >= 1 && port <= 65_535)) return 'the port must be a number from 1 to 65535'
  }
  const withPort = <P extends Pattern>(p: P): P => (port === undefined ? p : { ...p, port })
  if (hostPart === '*') return withPort({ kind: 'any' })
  const sub = hostPart.startsWith('*.')
  const rest = sub ? hostPart.slice(2) : hostPart
  if (rest.includes('*')) {
    return "'*' stands alone ('*') or as the whole first label ('*.example.com')"
  }
  const found = hostOrProblem(rest)
  if ('problem' in found) return found.problem
  if (!sub) return withPort({ kind: 'exact', host: found.host })
  if (found.host.startsWith('[') || ipv4Bytes(found.host)) {
    return "'*.' is followed by a host name, not an IP address"
  }
  return withPort({ kind: 'subdomains', name: found.host })
}

const formatPattern = (p: Pattern): string => {
  const host = p.kind === 'any' ? '*' : p.kind === 'subdomains' ? `*.${p.name}` : p.host
  return p.port === undefined ? host : `${host}:${p.port}`
}

const parsed = (entries: readonly string[]): Pattern[] =>
  entries.map(parsePattern).filter((p): p is Pattern => typeof p !== 'string')

/**
 * One allowlist entry: `host`, `*.host` (any subdomain, not the bare host) or `*` (anything),
 * each optionally with `:port`. Hosts are DNS names, IPv4 addresses or bracketed IPv6 ones.
 * Parses to the canonical form (lowercase, no trailing dot, RFC 5952 IPv6).
 *
 * @example
 * egressPatternSchema.parse('*.GitHub.com:443') // '*.github.com:443'
 */
export const egressPatternSchema = z
  .string()
  .describe(
    "a host ('pkgs.example.com'), its subdomains ('*.example.com') or '*', optionally ':port'",
  )
  .transform((entry, ctx) => {
    const p = parsePattern(entry)
    if (typeof p !== 'string') return formatPattern(p)
    ctx.addIssue({ code: 'custom', message: `'${entry}' is not a host pattern: ${p}` })
    return z.NEVER
  })

/** A worker's allowlist: at most 256 host patterns. */
export const egressAllowSchema = z.array(egressPatternSchema).max(256)

const hostMatches = (p: Pattern, host: string): boolean =>
  p.kind === 'any' || (p.kind === 'exact' ? p.host === host : host.endsWith(`.${p.name}`))

/**
 * Whether `patterns` let a worker reach `host:port` (case-insensitive, trailing dot ignored).
 * Entries that do not parse allow nothing.
 *
 * @example
 * allows(['*.github.com'], 'api.GitHub.com.', 443) // true
 * allows(['*.github.com'], 'github.com', 443) // false
 */
export const allows = (patterns: readonly string[], host: string, port: number): boolean => {
  const target = normalizeHost(host)
  if (target === undefined) return false
  return parsed(patterns).some(
    (p) => hostMatches(p, target) && (p.port === undefined || p.port === port),
  )
}

const covering = (parent: Pattern, child: Pattern): boolean => {
  if (parent.port !== undefined && parent.port !== child.port) return false
  if (parent.kind === 'any') return true
  if (child.kind === 'any') return false
  if (parent.kind === 'exact') return child.kind === 'exact' && child.host === parent.host
  const host = child.kind === 'exact' ? child.host : child.name
  return host.endsWith(`.${parent.name}`) || (child.kind === 'subdomains' && host === parent.name)
}

/**
 * For a sub-worker, which must never be wider than its parent: undefined when every `child`
 * entry is within some `parent` entry, else the first child entry that is not (an entry that
 * does not parse is never covered).
 *
 * @example
 * covers(['*.a.com'], ['b.a.com', '*.b.a.com:443']) // undefined
 * covers(['a.com:443'], ['a.com']) // 'a.com'
 */
export const covers = (parent: readonly string[], child: readonly string[]): string | undefined => {
  const parents = parsed(parent)
  return child.find((entry) => {
    const c = parsePattern(entry)
    return typeof c === 'string' || !parents.some((p) => covering(p, c))
  })
}
