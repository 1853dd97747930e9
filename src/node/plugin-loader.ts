import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Logger } from '../core/logger.ts'
import { PluginRegistry, type PluginCandidate } from '../core/plugin/registry.ts'

let generation = 0

/**
 * Lists `plugins/<name>/index.ts` folders as candidates. Each load imports the file with a
 * cache-busting query, so a reload sees the file as it is now.
 */
export const pluginCandidates = (dir: string): PluginCandidate[] => {
  if (!existsSync(dir)) return []
  const stamp = `${Date.now()}-${++generation}`
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .flatMap((d) => {
      const file = ['index.ts', 'index.js', 'index.mjs'].map((f) => join(dir, d.name, f)).find(existsSync)
      if (!file) return []
      return [{ name: d.name, load: () => import(`${pathToFileURL(file).href}?v=${stamp}`) }]
    })
}

/** Loads every plugin in `dir` into a new registry. */
export const loadPlugins = (dir: string): Promise<PluginRegistry> =>
  PluginRegistry.load(pluginCandidates(dir))

/**
 * Holds the current registry and swaps it whole on reload (file changes, SIGHUP), so callers
 * never see a half-loaded set.
 */
export class PluginHost {
  private registry = PluginRegistry.empty()
  private watcher: FSWatcher | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private reloading: Promise<PluginRegistry> | undefined

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  get current(): PluginRegistry {
    return this.registry
  }

  /** Loads the folder again and swaps the registry in one assignment. */
  async reload(): Promise<PluginRegistry> {
    // Reloads queue behind each other so an older load never replaces a newer one.
    const previous = this.reloading ?? Promise.resolve(this.registry)
    const next = previous.then(async () => {
      const loaded = await loadPlugins(this.dir)
      this.registry = loaded
      this.logger.info('plugins loaded', {
        dir: this.dir,
        plugins: loaded.ordered.map((p) => `${p.name}@${p.version}`),
        errors: loaded.errors,
      })
      return loaded
    })
    this.reloading = next.finally(() => {
      if (this.reloading === guarded) this.reloading = undefined
    })
    const guarded = this.reloading
    return next
  }

  /** Reloads shortly after files under the folder change. */
  watch(debounceMs = 250): void {
    if (this.watcher || !existsSync(this.dir)) return
    this.watcher = watch(this.dir, { recursive: true }, () => {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => {
        this.reload().catch((err) => this.logger.error('plugin reload failed', { error: String(err) }))
      }, debounceMs)
    })
  }

  close(): void {
    clearTimeout(this.timer)
    this.watcher?.close()
    this.watcher = undefined
  }
}
