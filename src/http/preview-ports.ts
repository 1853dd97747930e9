/** A TCP port a worker listens on, with the addresses it is bound to. */
export interface ListeningPort {
  port: number
  /** `127.0.0.1`, `0.0.0.0`, `::`, `::1`, …: where the server accepts connections. */
  addresses: string[]
}

/** The state `/proc/net/tcp*` gives a listening socket. */
const LISTEN = '0A'

/** An IPv4 address as /proc/net/tcp spells it: 8 hex digits, in host (little-endian) order. */
const ipv4 = (hex: string) => [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.')

/** An IPv6 address from /proc/net/tcp6: four 32-bit words, each little-endian. */
const ipv6 = (hex: string) => {
  const bytes: number[] = []
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8)
    for (const i of [6, 4, 2, 0]) bytes.push(parseInt(word.slice(i, i + 2), 16))
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255)
    return `::ffff:${bytes.slice(12).join('.')}`
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16),
  )
  // The longest run of zero groups (two or more) becomes `::`.
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > best.len) best = { at: i, len: j - i }
    i = j === i ? i + 1 : j
  }
  if (best.len < 2) return groups.join(':')
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`
}

/**
 * The listening TCP ports in the text of `/proc/net/tcp` and `/proc/net/tcp6` (any mix of
 * their lines), sorted, each once with every address it is bound to.
 */
export const parseListeningPorts = (text: string): ListeningPort[] => {
  const ports = new Map<number, Set<string>>()
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 4 || fields[3] !== LISTEN) continue
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(fields[1]!)
    if (!m) continue
    const port = parseInt(m[2]!, 16)
    const address = m[1]!.length === 8 ? ipv4(m[1]!) : ipv6(m[1]!)
    if (!ports.has(port)) ports.set(port, new Set())
    ports.get(port)!.add(address)
  }
  return [...ports]
    .sort(([a], [b]) => a - b)
    .map(([port, addresses]) => ({ port, addresses: [...addresses].sort() }))
}
