import type { Logger } from '../core/logger.ts'
import { MultiRuntime } from './multi-runtime.ts'
import { RemoteRuntime, type RemoteRuntimeOptions } from './remote-runtime.ts'

/** One configured host agent. */
export interface HostAgentTarget {
  name: string
  url: string
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/**
 * Parses `HOST_AGENT_URL`: one URL, or several comma-separated, each `name=url` (a bare URL is
 * named by its host). Throws an Error naming the variable and the bad entry.
 *
 * @example
 * parseHostAgents('a=http://docker-a:8081, b=http://docker-b:8081')
 * // [{ name: 'a', url: 'http://docker-a:8081' }, { name: 'b', url: 'http://docker-b:8081' }]
 */
export const parseHostAgents = (value: string): HostAgentTarget[] => {
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
  if (entries.length === 0) throw new Error('HOST_AGENT_URL: no URL given')
  const targets = entries.map((entry) => {
    const named = /^([^=:/]+)=(.+)$/.exec(entry)
    const raw = named ? named[2]!.trim() : entry
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new Error(`HOST_AGENT_URL: '${raw}' is not a URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`HOST_AGENT_URL: '${raw}' must be http:// or https://`)
    }
    const name = named ? named[1]!.trim() : url.host
    if (named && !NAME.test(name)) {
      throw new Error(`HOST_AGENT_URL: name '${name}' must be letters, digits, . _ - only`)
    }
    return { name, url: raw.replace(/\/+$/, '') }
  })
  const names = targets.map((t) => t.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice) throw new Error(`HOST_AGENT_URL: the name '${twice}' is used twice`)
  return targets
}

/**
 * The runtime for `HOST_AGENT_URL` and `HOST_AGENT_TOKEN`: a `RemoteRuntime` for one agent, a
 * `MultiRuntime` over several. Fetch only, so serverless entries can use it.
 *
 * @example
 * const runtime = runtimeFromConfig(env.HOST_AGENT_URL, env.HOST_AGENT_TOKEN)
 */
export const runtimeFromConfig = (
  urls: string,
  token: string | undefined,
  opts: Omit<RemoteRuntimeOptions, 'url' | 'name' | 'token'> & { logger?: Logger } = {},
): RemoteRuntime | MultiRuntime => {
  const agents = parseHostAgents(urls).map(
    (t) => new RemoteRuntime({ ...opts, ...t, ...(token ? { token } : {}) }),
  )
  return agents.length === 1 ? agents[0]! : new MultiRuntime(agents, opts)
}
