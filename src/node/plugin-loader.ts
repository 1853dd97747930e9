import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Logger } from '../core/logger.ts'
import {
  PluginRegistry,
  type PluginCandidate,
  type PluginLoadError,
} from '../core/plugin/registry.ts'
import {
  findPluginPackages,
  packageCandidate,
  scopeDirs,
  type FoundPackage,
  type PackageSource,
} from './plugin-packages.ts'
import { PLUGIN_STAMP } from './plugin-resolve.ts'

let generation = 0
const newStamp = () => `${Date.now()}-${++generation}`

/** The `index.ts` (or `.js`, `.mjs`) of a plugin folder, if it has one. */
export const folderEntry = (folder: string): string | undefined =>
  ['index.ts', 'index.js', 'index.mjs'].map((f) => join(folder, f)).find(existsSync)

/** One plugin folder as a candidate, imported with `stamp` so a reload sees its files as they are. */
export const folderCandidate = (
  folder: string,
  name: string,
  stamp = newStamp(),
): PluginCandidate | undefined => {
  const file = folderEntry(folder)
  if (!file) return undefined
  return { name, load: () => import(`${pathToFileURL(file).href}?${PLUGIN_STAMP}=${stamp}`) }
}

/**
 * Lists `plugins/<name>/index.ts` folders as candidates. Each load imports the file with a
 * cache-busting query, so a reload sees the file as it is now.
 */
export const pluginCandidates = (dir: string, stamp = newStamp()): PluginCandidate[] => {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .flatMap((d) => folderCandidate(join(dir, d.name), d.name, stamp) ?? [])
}

/** What one load found: the candidates, those refused before import, and the packages seen. */
export interface PluginSources {
  candidates: PluginCandidate[]
  refused: PluginLoadError[]
  packages: FoundPackage[]
}

/**
 * Folder plugins, then plugin packages. A folder wins over a package of the same plugin name
 * (the package is reported, not loaded): the operator's own folder is the deliberate override.
 * Two packages with one plugin name are both refused, since neither choice would be obvious.
 */
export const pluginSources = (dir: string, packages?: PackageSource): PluginSources => {
  const stamp = newStamp()
  const candidates = pluginCandidates(dir, stamp)
  if (!packages) return { candidates, refused: [], packages: [] }
  const { found, missing } = findPluginPackages(packages)
  const refused = [...missing]
  const folders = new Set(candidates.map((c) => c.name))
  const fromPackages = found.map((pkg) => packageCandidate(pkg, stamp))
  const count = new Map<string, number>()
  for (const c of fromPackages) count.set(c.name, (count.get(c.name) ?? 0) + 1)
  for (const c of fromPackages) {
    const pkg = c.package!
    if (folders.has(c.name)) {
      refused.push({
        plugin: c.name,
        field: 'name',
        reason: `the folder ${join(dir, c.name)} provides plugin '${c.name}'; the package ${pkg.name}@${pkg.version} is not loaded`,
        package: pkg,
      })
    } else if (count.get(c.name)! > 1) {
      const others = fromPackages.filter((o) => o.name === c.name).map((o) => o.package!.name)
      refused.push({
        plugin: c.name,
        field: 'name',
        reason: `packages ${others.join(', ')} all provide plugin '${c.name}'; none is loaded until one is removed`,
        package: pkg,
      })
    } else {
      candidates.push(c)
    }
  }
  return { candidates, refused, packages: found }
}

/** Loads every plugin in `dir` (and, when given, the plugin packages) into a new registry. */
export const loadPlugins = async (
  dir: string,
  packages?: PackageSource,
): Promise<PluginRegistry> => {
  const { candidates, refused } = pluginSources(dir, packages)
  return PluginRegistry.load(candidates, refused)
}

/**
 * Holds the current registry and swaps it whole on reload (file changes, SIGHUP), so callers
 * never see a half-loaded set.
 */
export class PluginHost {
  private registry = PluginRegistry.empty()
  private readonly watchers = new Map<string, FSWatcher>()
  private watching: { debounceMs: number } | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private reloading: Promise<PluginRegistry> | undefined
  private packagesSeen: FoundPackage[] = []

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
    readonly packages?: PackageSource,
  ) {}

  get current(): PluginRegistry {
    return this.registry
  }

  /** Loads the folder and the packages again and swaps the registry in one assignment. */
  async reload(): Promise<PluginRegistry> {
    // Reloads queue behind each other so an older load never replaces a newer one.
    const previous = this.reloading ?? Promise.resolve(this.registry)
    const next = previous.then(async () => {
      const sources = pluginSources(this.dir, this.packages)
      const loaded = await PluginRegistry.load(sources.candidates, sources.refused)
      this.registry = loaded
      this.packagesSeen = sources.packages
      this.logger.info('plugins loaded', {
        dir: this.dir,
        plugins: loaded
          .list()
          .map(
            (p) =>
              `${p.name}@${p.version}${p.package ? ` (${p.package.name}@${p.package.version})` : ''}`,
          ),
        errors: loaded.errors,
      })
      if (this.watching) this.updateWatchers()
      return loaded
    })
    this.reloading = next.finally(() => {
      if (this.reloading === guarded) this.reloading = undefined
    })
    const guarded = this.reloading
    return next
  }

  /**
   * Reloads shortly after files change: anything under the plugin folder; in `node_modules`, its
   * top level and `@scope` folders (a package added, removed or replaced; npm also rewrites
   * `.package-lock.json` at the end of every install) and every plugin package's own files.
   * The rest of `node_modules` is not watched: it can hold tens of thousands of folders.
   */
  watch(debounceMs = 250): void {
    if (this.watching) return
    this.watching = { debounceMs }
    this.updateWatchers()
  }

  /** Watches what the last load makes relevant, and stops watching what it no longer does. */
  private updateWatchers(): void {
    const wanted = new Map<string, boolean>()
    if (existsSync(this.dir)) wanted.set(this.dir, true)
    const nm = this.packages?.nodeModules
    if (nm) {
      // A node_modules that does not exist yet is seen when npm creates it.
      if (existsSync(nm)) wanted.set(nm, false)
      else if (existsSync(dirname(nm))) wanted.set(dirname(nm), false)
      for (const scope of scopeDirs(nm)) wanted.set(scope, false)
      for (const pkg of this.packagesSeen) if (existsSync(pkg.dir)) wanted.set(pkg.dir, true)
    }
    // A package folder npm replaced leaves its watcher on the old, deleted folder: renewed each time.
    const renew = new Set(this.packagesSeen.map((p) => p.dir))
    for (const [path, watcher] of this.watchers) {
      if (wanted.has(path) && !renew.has(path)) continue
      watcher.close()
      this.watchers.delete(path)
    }
    for (const [path, recursive] of wanted) {
      if (this.watchers.has(path)) continue
      try {
        const watcher = watch(path, { recursive }, () => this.schedule())
        watcher.on('error', () => {
          watcher.close()
          if (this.watchers.get(path) === watcher) this.watchers.delete(path)
          this.schedule()
        })
        this.watchers.set(path, watcher)
      } catch (err) {
        this.logger.warn('cannot watch for plugin changes', { path, error: String(err) })
      }
    }
  }

  private schedule(): void {
    if (!this.watching) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.reload().catch((err) =>
        this.logger.error('plugin reload failed', { error: String(err) }),
      )
    }, this.watching.debounceMs)
  }

  close(): void {
    clearTimeout(this.timer)
    this.watching = undefined
    for (const watcher of this.watchers.values()) watcher.close()
    this.watchers.clear()
  }
}
