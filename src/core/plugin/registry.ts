import { pluginSchema, type Plugin } from './contract.ts'
import { describeIssues } from '../validation.ts'

/** The npm package a plugin came from (folder plugins have none). */
export interface PluginPackage {
  name: string
  version: string
}

/** A plugin folder or package that could be loaded: its name and how to import it. */
export interface PluginCandidate {
  /** Folder name, or the name a package's plugin must have; must equal the plugin's `name`. */
  name: string
  load: () => Promise<unknown>
  /** Set when the plugin comes from an installed npm package. */
  package?: PluginPackage
  /** The file a failed import is reported against (default `index.ts`). */
  entry?: string
}

/** Why a plugin was refused: the plugin, the field at fault and the reason. */
export interface PluginLoadError {
  plugin: string
  field: string
  reason: string
  /** The package the refused plugin came from, when it is one. */
  package?: PluginPackage
}

/** What `GET /v1/plugins` shows for a loaded plugin. */
export interface PluginInfo {
  name: string
  kind: 'agent' | 'capability'
  version: string
  description: string
  requires: string[]
  secrets: { name: string; required: boolean }[]
  /** The model API its CLI reaches through the gateway: the key and base-URL variables. */
  gateway?: { keys: string[]; baseUrl: string }
  /** The npm package it was loaded from; absent for a folder under PLUGINS_DIR. */
  package?: PluginPackage
}

/** One imported module (or its import failure) with where it came from. */
export interface PluginModule {
  name: string
  module?: unknown
  error?: unknown
  package?: PluginPackage
  entry?: string
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
    private readonly packages: ReadonlyMap<string, PluginPackage> = new Map(),
  ) {
    this.byName = new Map(ordered.map((p) => [p.name, p]))
    this.loadedAt = new Date()
  }

  /**
   * Imports and validates every candidate; a broken one is reported, the rest still load.
   * `refused` are candidates turned away before import (e.g. a package a folder shadows).
   */
  static async load(
    candidates: readonly PluginCandidate[],
    refused: readonly PluginLoadError[] = [],
  ): Promise<PluginRegistry> {
    const entries = await Promise.all(
      candidates.map(async (c): Promise<PluginModule> => {
        const from = {
          name: c.name,
          ...(c.package ? { package: c.package } : {}),
          ...(c.entry ? { entry: c.entry } : {}),
        }
        try {
          return { ...from, module: await c.load() }
        } catch (err) {
          return { ...from, error: err }
        }
      }),
    )
    return PluginRegistry.fromModules(entries, refused)
  }

  /** Builds a registry from already imported modules (or import failures). */
  static fromModules(
    entries: readonly PluginModule[],
    refused: readonly PluginLoadError[] = [],
  ): PluginRegistry {
    const errors: PluginLoadError[] = [...refused]
    const valid = new Map<string, Plugin>()
    const packages = new Map<string, PluginPackage>()
    for (const entry of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
      const entryFile = entry.entry ?? 'index.ts'
      const fail = (field: string, reason: string) =>
        errors.push({
          plugin: entry.name,
          field,
          reason,
          ...(entry.package ? { package: entry.package } : {}),
        })
      if (entry.error !== undefined) {
        fail(entryFile, importReason(entry.error))
        continue
      }
      const exported = (entry.module as { default?: unknown } | null)?.default
      if (exported === undefined) {
        fail(
          'default export',
          `${entryFile} must default-export defineAgent({...}) or defineCapability({...})`,
        )
        continue
      }
      const parsed = pluginSchema.safeParse(exported)
      if (!parsed.success) {
        for (const issue of describeIssues(parsed.error)) fail(issue.path, issue.message)
        continue
      }
      if (parsed.data.name !== entry.name) {
        const where = entry.package ? `the package '${entry.package.name}' names` : 'the folder is'
        fail('name', `is '${parsed.data.name}' but ${where} '${entry.name}'; they must match`)
        continue
      }
      valid.set(entry.name, parsed.data as Plugin)
      if (entry.package) packages.set(entry.name, entry.package)
    }
    const { ordered, refused: unordered } = orderByRequires(valid)
    const withPackage = unordered.map((e) => {
      const pkg = packages.get(e.plugin)
      return pkg ? { ...e, package: pkg } : e
    })
    return new PluginRegistry(ordered, [...errors, ...withPackage], packages)
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
      ...(p.gateway ? { gateway: { keys: p.gateway.keys, baseUrl: p.gateway.baseUrl } } : {}),
      ...(this.packages.has(p.name) ? { package: this.packages.get(p.name)! } : {}),
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
        refused.push({
          plugin: name,
          field: 'requires',
          reason: `requires '${dep}', which is not loaded`,
        })
        state.set(name, 'refused')
        return false
      }
      if (!visit(dep, [...chain, name])) {
        if (state.get(name) !== 'refused') {
          refused.push({
            plugin: name,
            field: 'requires',
            reason: `requires '${dep}', which was refused`,
          })
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
