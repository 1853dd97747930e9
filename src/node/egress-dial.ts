import { connect, type Socket } from 'node:net'
import { networkInterfaces } from 'node:os'
import {
  type Cidr,
  inCidrs,
  isIp,
  isPrivateAddress,
  normalizeHost,
  parseCidrs,
} from '../core/egress.ts'

/** A refused or failed egress attempt: the status and the one-line reason the client sees. */
export interface Refusal {
  status: number
  /** Why, after `<host>:<port>` (or alone when there is no target yet). */
  reason: string
  /** Set for refusals that are policy (an `egress_denied` event), not failures. */
  code?: 'not_allowed' | 'private_address' | 'too_many_connections'
}

/** Where the proxy looks names up, and which private addresses it lets a destination have. */
export interface DialPolicy {
  /** Canonical host (`normalizeHost`) → IP address, looked at before `resolve`. */
  hosts: Map<string, string>
  privateAllow: readonly Cidr[]
  resolve(host: string): Promise<string[]>
  connectTimeoutMs: number
  /** This machine's own addresses (default: its interfaces'), refused like private ones. */
  local?: () => readonly string[]
}

/**
 * The addresses of this machine's interfaces. The proxy connects from here, so a public one
 * reaches every host service bound to all interfaces, as loopback would.
 */
export const machineAddresses = (): string[] =>
  Object.values(networkInterfaces())
    .flatMap((list) => (list ?? []).map((i) => i.address))
    .filter((a) => isIp(a) && !a.includes('%'))

/** Checks an operator's static host entries, keyed by canonical host; throws naming a bad one. */
export const staticHosts = (hosts: Record<string, string> = {}): Map<string, string> =>
  new Map(
    Object.entries(hosts).map(([name, ip]) => {
      const host = normalizeHost(name)
      if (!host || !isIp(ip)) throw new Error(`egress host entry '${name}' → '${ip}' is invalid`)
      return [host, ip.replace(/^\[(.*)\]$/, '$1')]
    }),
  )

const failure = (reason: string): Refusal => ({ status: 502, reason })

/** Rejects with `message` when `promise` outlasts the deadline. */
const beforeDeadline = <T>(promise: Promise<T>, deadline: number, message: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(0, deadline - Date.now()))
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** The addresses `host` (canonical) stands for: itself when a literal, else hosts, else DNS. */
const addressesOf = async (host: string, policy: DialPolicy, deadline: number) => {
  const literal = host.replace(/^\[(.*)\]$/, '$1')
  if (isIp(literal)) return [literal]
  const fixed = policy.hosts.get(host)
  if (fixed) return [fixed]
  return beforeDeadline(policy.resolve(host), deadline, 'timed out')
}

const connectTo = (address: string, port: number, deadline: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    // Connecting to the address that was checked, never to the name: a second lookup could
    // answer differently (DNS rebinding).
    const socket = connect({ host: address, port, allowHalfOpen: true })
    const timer = setTimeout(
      () => socket.destroy(new Error('timed out connecting')),
      Math.max(0, deadline - Date.now()),
    )
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', reject)
      resolve(socket)
    })
    socket.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })

/**
 * Resolves an allowed `host:port` and connects to the first address that is public or in
 * `privateAllow`, trying them in order until the connect deadline. A name that resolves only
 * to private addresses is refused: an allowed name (say under `*.nip.io`) must not lead to
 * this machine, its Redis, other containers or the cloud metadata address.
 */
export const dial = async (
  host: string,
  port: number,
  policy: DialPolicy,
): Promise<Socket | Refusal> => {
  const deadline = Date.now() + policy.connectTimeoutMs
  let addresses: string[]
  try {
    addresses = await addressesOf(host, policy, deadline)
  } catch (e) {
    const why = e instanceof Error && e.message === 'timed out' ? 'timed out' : codeOf(e)
    return failure(`could not be resolved (${why})`)
  }
  const local = parseCidrs((policy.local ?? machineAddresses)().join(','))
  const refused = (a: string) => isPrivateAddress(a) || inCidrs(a, local)
  const usable = addresses.filter((a) => !refused(a) || inCidrs(a, policy.privateAllow))
  if (addresses.length === 0) return failure('could not be resolved (no address)')
  if (usable.length === 0) {
    const what = isPrivateAddress(addresses[0]!) ? 'the private address' : "this machine's address"
    return {
      status: 403,
      code: 'private_address',
      reason:
        `${isIp(host.replace(/^\[(.*)\]$/, '$1')) ? 'is' : 'resolves to'} ${what} ` +
        `${addresses[0]}, which workers may not reach ` +
        '(this keeps the host, its services and cloud metadata out of reach of DNS tricks)',
    }
  }
  let last: unknown
  for (const address of usable) {
    if (Date.now() >= deadline) break
    try {
      return await connectTo(address, port, deadline)
    } catch (e) {
      last = e
    }
  }
  return failure(`could not be reached (${last ? codeOf(last) : 'timed out'})`)
}

const codeOf = (e: unknown): string => {
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return e instanceof Error ? e.message : String(e)
}
