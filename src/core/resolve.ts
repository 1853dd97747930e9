import type { AgentPlugin, CapabilityPlugin, Plugin } from './plugin/contract.ts'
import type { PluginRegistry } from './plugin/registry.ts'
import type { WorkerConfig } from './config.ts'
import { BadRequestError, NotFoundError } from './errors.ts'

/** The plugins a worker is made of, in the registry's dependency order. */
export interface ResolvedPlugins {
  agent: AgentPlugin
  capabilities: CapabilityPlugin[]
  /** Agent and capabilities, each after what it requires. */
  ordered: Plugin[]
}

/**
 * Looks up the config's agent and capabilities and checks every `requires` is met by the
 * config itself. Errors name the plugin and say what to change.
 */
export const resolvePlugins = (
  registry: PluginRegistry,
  config: Pick<WorkerConfig, 'agent' | 'capabilities'>,
): ResolvedPlugins => {
  const refused = new Map(registry.errors.map((e) => [e.plugin, e]))
  const lookup = (name: string, field: string): Plugin => {
    const plugin = registry.get(name)
    if (plugin) return plugin
    const broken = refused.get(name)
    if (broken) {
      throw new BadRequestError(
        `${field}: plugin '${name}' failed to load (${broken.field}: ${broken.reason})`,
        [{ path: field, message: 'plugin failed to load' }],
        'plugin_unavailable',
      )
    }
    const known = registry.ordered.map((p) => p.name).join(', ') || 'none'
    throw new NotFoundError(
      `${field}: unknown plugin '${name}' (loaded: ${known})`,
      'unknown_plugin',
    )
  }

  const agent = lookup(config.agent, 'agent')
  if (agent.kind !== 'agent') {
    throw new BadRequestError(`agent: '${config.agent}' is a capability, not an agent`, [
      { path: 'agent', message: 'not an agent plugin' },
    ])
  }
  const capabilities = config.capabilities.map((name, i) => {
    const cap = lookup(name, `capabilities.${i}`)
    if (cap.kind !== 'capability') {
      throw new BadRequestError(`capabilities.${i}: '${name}' is an agent, not a capability`, [
        { path: `capabilities.${i}`, message: 'not a capability plugin' },
      ])
    }
    return cap
  })

  const chosen = new Set([config.agent, ...config.capabilities])
  for (const plugin of [agent, ...capabilities]) {
    for (const dep of plugin.requires ?? []) {
      if (!chosen.has(dep)) {
        throw new BadRequestError(
          `${plugin.kind} '${plugin.name}' requires '${dep}': add '${dep}' to capabilities`,
          [{ path: 'capabilities', message: `missing '${dep}', required by '${plugin.name}'` }],
          'missing_requirement',
        )
      }
    }
  }
  const ordered = registry.ordered.filter((p) => chosen.has(p.name))
  return { agent, capabilities, ordered }
}
