import type { ContainerNetwork, Network } from './config.ts'
import { covers } from './egress.ts'
import { ForbiddenError } from './errors.ts'
import { WORKER_LOCAL_PORT } from './gateway-access.ts'

/** What the operator lets WorkerConfigs ask for (EGRESS_DEFAULT, EGRESS_PERMIT, NETWORK_ALL). */
export interface NetworkPolicy {
  /** A config's network when it names none. */
  default: Network
  /** Host patterns an `allow` list may use (`*`: any). */
  permit: string[]
  /** Whether `'all'` (Docker's bridge, no proxy) may be asked for. */
  allowAll: boolean
}

/** With no settings: every connection out denied (through the proxy, so it says why). */
export const DEFAULT_NETWORK_POLICY: NetworkPolicy = {
  default: { allow: [] },
  permit: ['*'],
  allowAll: true,
}

/** A worker's network as its container and the egress proxy see it. */
export interface WorkerNetwork {
  network: ContainerNetwork
  /** Host patterns the egress proxy lets through; undefined: no proxy (`'none'` or `'all'`). */
  egress?: string[]
}

/** `'none' | 'all' | { allow }` for a worker's network (status, sub-worker defaults). */
export const networkOf = (w: WorkerNetwork): Network =>
  w.network === 'open' ? 'all' : w.egress ? { allow: w.egress } : 'none'

const refuse = (message: string) => {
  throw new ForbiddenError(message, 'network_not_allowed')
}

/**
 * The network a config gets: the asked one, or the operator's default. Throws
 * `network_not_allowed` when it asks for `'all'` where NETWORK_ALL is off, or allows a host
 * pattern EGRESS_PERMIT does not cover.
 */
export const resolveNetwork = (
  asked: Network | undefined,
  policy: NetworkPolicy = DEFAULT_NETWORK_POLICY,
): WorkerNetwork => {
  const net = asked ?? policy.default
  if (net === 'all') {
    if (asked && !policy.allowAll) refuse("network 'all' is not allowed here (NETWORK_ALL=0)")
    return { network: 'open' }
  }
  if (net === 'none') return { network: 'isolated' }
  const outside = asked ? covers(policy.permit, net.allow) : undefined
  if (outside) refuse(`network.allow '${outside}' is outside what EGRESS_PERMIT allows`)
  return { network: 'isolated', egress: [...new Set(net.allow)] }
}

/**
 * Why a sub-worker's network reaches more than its parent's, or undefined when it does not:
 * `'all'` only under `'all'`; an allow list only within the parent's (an empty one reaches
 * nothing, so it fits under `'none'` too).
 */
export const childNetworkRefusal = (
  parent: WorkerNetwork,
  child: WorkerNetwork,
): string | undefined => {
  if (parent.network === 'open') return undefined
  if (child.network === 'open') return "'all' reaches more than the parent's network"
  if (!child.egress || child.egress.length === 0) return undefined
  const outside = covers(parent.egress ?? [], child.egress)
  return outside ? `allow '${outside}' is outside the parent's allow list` : undefined
}

/** Hosts a proxied worker never sends through the proxy: the forwarder itself. */
const NO_PROXY = 'localhost,127.0.0.1,::1'

/**
 * The proxy environment of a worker with an allow list: every usual spelling, pointing at the
 * in-container forwarder with the worker's credential (the proxy knows the worker by it).
 */
export const egressEnv = (credential: string): Record<string, string> => {
  const url = `http://worker:${credential}@127.0.0.1:${WORKER_LOCAL_PORT}`
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY,
    no_proxy: NO_PROXY,
    // Node's own fetch follows the variables only when told to (Node 24 and later).
    NODE_USE_ENV_PROXY: '1',
  }
}
