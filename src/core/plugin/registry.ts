import { pluginSchema, type Plugin } from './contract.ts'
import { describeIssues } from '../validation.ts'

/** A plugin folder that could be loaded: its name and how to import it. */
export interface PluginCandidate {
  /** Folder name; must equal the plugin's `name`. */
  name: string
  load: () => Promise<unknown>
}

/** Why a plugin was refused: the plugin, the field at fault and the reason. */
export interface PluginLoadError {
  plugin: string
  field: string
  reason: string
}

/** What `GET /v1/plugins` shows for a loaded plugin. */
export interface PluginInfo {
  name: string
  kind: 'agent' | 'capability'
  version: string
  description: string
  requires: string[]
  secrets: { name: string; required: boolean }[]
}

/**
 * An immutable snapshot of the loaded plugins, ordered so that every plugin comes after the
 * plugins it `requires`. Reloading builds a new registry; callers swap the reference at once, so
 * a half-loaded registry is never visible.
 */
export class PluginRegistry {
  readonly loadedAt: Date
  private readonly byName: ReadonlyMap<string, Plugin>

  private constructor(
    readonly ordered: readonly Plugin[],
    readonly errors: readonly PluginLoadError[],
  ) {
    this.byName = new Map(ordered.map((p) => [p.name, p]))
    this.loadedAt = new Date()
  }

  /** Imports and validates every candidate; a broken one is reported, the rest still load. */
  static async load(candidates: readonly PluginCandidate[]): Promise<PluginRegistry> {
    const entries = await Promise.all(
      candidates.map(async (c) => {
        try {
          return { name: c.name, module: await c.load() }
        } catch (err) {
          return { name: c.name, error: err }
        }
      }),
    )
    return PluginRegistry.fromModules(entries)
  }

  /** Builds a registry from already imported modules (or import failures). */
  static fromModules(
    entries: readonly { name: string; module?: unknown; error?: unknown }[],
  ): PluginRegistry {
    const errors: PluginLoadError[] = []
    const valid = new Map<string, Plugin>()
    for (const entry of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.error !== undefined) {
        errors.push({ plugin: entry.name, field: 'index.ts', reason: importReason(entry.error) })
        continue
      }
      const exported = (entry.module as { default?: unknown } | null)?.default
      if (exported === undefined) {
        errors.push({
          plugin: entry.name,
          field: 'default export',
          reason: 'index.ts must default-export defineAgent({...}) or defineCapability({...})',
        })
        continue
      }
      const parsed = pluginSchema.safeParse(exported)
      if (!parsed.success) {
        for (const issue of describeIssues(parsed.error)) {
          errors.push({ plugin: entry.name, field: issue.path, reason: issue.message })
        }
        continue
      }
      if (parsed.data.name !== entry.name) {
        errors.push({
          plugin: entry.name,
          field: 'name',
          reason: `is '${parsed.data.name}' but the folder is '${entry.name}'; they must match`,
        })
        continue
      }
      valid.set(entry.name, parsed.data as Plugin)
    }
    const { ordered, refused } = orderByRequires(valid)
    return new PluginRegistry(ordered, [...errors, ...refused])
  }

  static empty(): PluginRegistry {
    return new PluginRegistry([], [])
  }

  get(name: string): Plugin | undefined {
    return this.byName.get(name)
  }

  /** Public description of every loaded plugin, in dependency order. */
  list(): PluginInfo[] {
    return this.ordered.map((p) => ({
      name: p.name,
      kind: p.kind,
      version: p.version,
      description: p.description,
      requires: p.requires ?? [],
      secrets: (p.secrets ?? []).map((s) => ({ name: s.name, required: s.required ?? false })),
    }))
  }
}

const importReason = (err: unknown): string => {
  const message = err instanceof Error ? err.message : String(err)
  // An import error's first line is what an operator needs; the rest is a stack.
  return `failed to import: ${message.split('\n')[0]}`
}

/**
 * Orders plugins so each follows what it requires (depth-first, stable by name). A plugin that
 * requires a missing or refused plugin, or sits on a cycle, is refused with a reason.
 */
export const orderByRequires = (
  plugins: ReadonlyMap<string, Plugin>,
): { ordered: Plugin[]; refused: PluginLoadError[] } => {
  const ordered: Plugin[] = []
  const refused: PluginLoadError[] = []
  const state = new Map<string, 'visiting' | 'done' | 'refused'>()

  const visit = (name: string, chain: string[]): boolean => {
    const seen = state.get(name)
    if (seen === 'done') return true
    if (seen === 'refused') return false
    const plugin = plugins.get(name)
    if (!plugin) return false
    if (seen === 'visiting') {
      refused.push({
        plugin: name,
        field: 'requires',
        reason: `cycle: ${[...chain.slice(chain.indexOf(name)), name].join(' → ')}`,
      })
      state.set(name, 'refused')
      return false
    }
    state.set(name, 'visiting')
    for (const dep of plugin.requires ?? []) {
      if (!plugins.has(dep)) {
        refused.push({ plugin: name, field: 'requires', reason: `requires '${dep}', which is not loaded` })
        state.set(name, 'refused')
        return false
      }
      if (!visit(dep, [...chain, name])) {
        if (state.get(name) !== 'refused') {
          refused.push({ plugin: name, field: 'requires', reason: `requires '${dep}', which was refused` })
          state.set(name, 'refused')
        }
        return false
      }
    }
    state.set(name, 'done')
    ordered.push(plugin)
    return true
  }

  for (const name of [...plugins.keys()].sort()) visit(name, [])
  return { ordered, refused }
}
