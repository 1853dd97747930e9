import { Mac } from './auth/mac.ts'
import type { Gateway, Plugin } from './plugin/contract.ts'

/**
 * Where a worker without a network reaches the service over TCP: a forwarder the entrypoint
 * starts inside the container relays `127.0.0.1:3128` to the worker API socket. The model
 * gateway (`/model/<plugin>`) and the egress proxy are served there; agent CLIs speak TCP only.
 */
export const WORKER_LOCAL_PORT = 3128

/** The path prefix of the model gateway on the worker API listeners. */
export const GATEWAY_PREFIX = '/model'

/** A worker's model credential: `wsk_<worker id>_<hex tag>`. */
const CREDENTIAL = /^wsk_(w-[0-9a-f]{16})_([0-9a-f]{64})$/

/**
 * Mints and checks the credentials workers present to the model gateway and the egress proxy:
 * one per worker, derived from the service's key and the worker id, so nothing is stored and a
 * worker can name no id but its own. It unlocks only what the gateway allows that worker.
 */
export class WorkerKeys {
  private readonly mac: Mac

  constructor(secret: string) {
    this.mac = new Mac(secret, 'model gateway credential v1')
  }

  async mint(workerId: string): Promise<string> {
    return `wsk_${workerId}_${await this.mac.sign(workerId)}`
  }

  /** The worker id a credential was minted for, or undefined when it was not minted here. */
  async verify(credential: string): Promise<string | undefined> {
    const m = CREDENTIAL.exec(credential.trim())
    if (!m) return undefined
    return (await this.mac.verify(m[1]!, m[2]!)) ? m[1] : undefined
  }
}

type Env = Readonly<Record<string, string | undefined>>

/** A worker's credential, and the gateway's URL for each plugin as the worker reaches it. */
export interface Broker {
  credential: string
  urlOf: (plugin: string) => string
}

const own = (env: Env, name: string) => {
  const value = Object.hasOwn(env, name) ? env[name] : undefined
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The spawner's upstream for a plugin's model API: its `baseUrl` setting, else the provider's. */
export const upstreamOf = (g: Gateway, hostEnv: Env): string | undefined =>
  own(hostEnv, g.baseUrl) ?? g.upstream

/** The spawner's real key for a plugin's model API: the first of `keys` it sets. */
export const realKeyOf = (g: Gateway, hostEnv: Env): string | undefined => {
  for (const name of g.keys) {
    const value = own(hostEnv, name)
    if (value) return value
  }
  return undefined
}

/**
 * True when the gateway carries a plugin's model calls for a worker: the worker's own env names
 * neither the endpoint nor a key (it would bring its own), and the spawner has a key or an
 * endpoint of its own, and there is an upstream to forward to.
 */
export const brokered = (g: Gateway | undefined, configEnv: Env, hostEnv: Env): g is Gateway =>
  !!g &&
  !g.keys.some((k) => own(configEnv, k)) &&
  !own(configEnv, g.baseUrl) &&
  (realKeyOf(g, hostEnv) !== undefined || own(hostEnv, g.baseUrl) !== undefined) &&
  upstreamOf(g, hostEnv) !== undefined

/**
 * The spawner's environment as a worker's plugins see it (settings, secrets, config files): every
 * model key a plugin declares for the gateway is taken out, and where the gateway brokers the
 * plugin's API, the first key is the worker's credential and the base URL is the gateway's. So
 * plugins write the gateway into the CLI's config, exactly as they would an operator's endpoint.
 */
export const workerHostEnv = (
  plugins: readonly Pick<Plugin, 'name' | 'gateway'>[],
  configEnv: Env,
  hostEnv: Env,
  broker?: Broker,
): Env => {
  const env: Record<string, string | undefined> = { ...hostEnv }
  for (const p of plugins) {
    const g = p.gateway
    if (!g) continue
    const use = broker && brokered(g, configEnv, hostEnv)
    for (const key of g.keys) env[key] = undefined
    if (!use) continue
    const key = g.keys.find((k) => own(hostEnv, k)) ?? g.keys[0]!
    env[key] = broker.credential
    env[g.baseUrl] = broker.urlOf(p.name)
  }
  return env
}

/**
 * What the gateway sets in a worker for its plugins' CLIs, from `workerEnv` (see
 * `workerHostEnv`): the credential in the key variable and the gateway's URL in the base URL
 * variable, for each plugin whose calls it brokers. A plugin needs no env or secret for them.
 */
export const gatewayVars = (
  plugins: readonly Pick<Plugin, 'gateway'>[],
  workerEnv: Env,
): Record<string, string> => {
  const vars: Record<string, string> = {}
  for (const { gateway: g } of plugins) {
    const key = g?.keys.find((k) => own(workerEnv, k))
    const url = g && own(workerEnv, g.baseUrl)
    if (key && url) Object.assign(vars, { [key]: workerEnv[key], [g.baseUrl]: url })
  }
  return vars
}
