import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { PluginCandidate, PluginLoadError } from '../core/plugin/registry.ts'
import { NPM_NAME } from '../settings.ts'
import { PLUGIN_STAMP } from './plugin-resolve.ts'

/** Packages with this name (bare or under any `@scope/`) are loaded as plugins when installed. */
export const PLUGIN_PACKAGE_PREFIX = 'workers-spawner-plugin-'

/** Where plugin packages are looked up, and which ones besides the `workers-spawner-plugin-*` ones. */
export interface PackageSource {
  /** A `node_modules` folder (the service's own by default). */
  nodeModules: string
  /** Package names listed by the operator (`PLUGIN_PACKAGES`). */
  names?: readonly string[]
}

/** A plugin package found on disk. */
export interface FoundPackage {
  /** The package's name, as installed. */
  name: string
  /** Its folder, links resolved (what a watcher follows). */
  dir: string
}

/**
 * The plugin name a package must declare: the package name without its scope and without the
 * `workers-spawner-plugin-` prefix (`@acme/workers-spawner-plugin-aider` → `aider`).
 */
export const pluginNameOf = (packageName: string): string =>
  packageName.replace(/^@[^/]+\//, '').replace(new RegExp(`^${PLUGIN_PACKAGE_PREFIX}`), '')

const isDir = (path: string) => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Entries of a folder that are directories (links to directories included: `npm install ./dir`). */
const subdirs = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith('.') && isDir(join(dir, name)))
  } catch {
    return []
  }
}

/** The `@scope` folders of a `node_modules`. */
export const scopeDirs = (nodeModules: string): string[] =>
  subdirs(nodeModules)
    .filter((n) => n.startsWith('@'))
    .map((n) => join(nodeModules, n))

/**
 * Installed plugin packages: every `workers-spawner-plugin-*` and `@scope/workers-spawner-plugin-*`
 * in `nodeModules`, plus the listed names. A listed package that is not installed is reported.
 */
export const findPluginPackages = (
  source: PackageSource,
): { found: FoundPackage[]; missing: PluginLoadError[] } => {
  const { nodeModules } = source
  const names = new Set<string>()
  for (const name of subdirs(nodeModules)) {
    if (name.startsWith(PLUGIN_PACKAGE_PREFIX)) names.add(name)
    if (!name.startsWith('@')) continue
    for (const inner of subdirs(join(nodeModules, name))) {
      if (inner.startsWith(PLUGIN_PACKAGE_PREFIX)) names.add(`${name}/${inner}`)
    }
  }
  const missing: PluginLoadError[] = []
  for (const name of source.names ?? []) {
    if (isDir(join(nodeModules, name))) names.add(name)
    else {
      missing.push({
        plugin: pluginNameOf(name),
        field: 'PLUGIN_PACKAGES',
        reason: `package '${name}' is not installed in ${nodeModules}`,
      })
    }
  }
  const found = [...names].sort().map((name) => {
    const dir = join(nodeModules, name)
    let real = dir
    try {
      real = realpathSync(dir)
    } catch {
      // removed since the listing: the load reports it
    }
    return { name, dir: real }
  })
  return { found, missing }
}

/** `exports` of a package.json, as far as an ESM `import` of the package's root goes. */
type Exports = string | null | { [key: string]: Exports } | Exports[]

const CONDITIONS = ['import', 'node', 'default']

/** The target of an `exports` value for `import` (conditions `import`, `node`, `default`). */
const exportTarget = (value: Exports | undefined): string | undefined => {
  if (typeof value === 'string') return value
  if (!value || typeof value !== 'object') return undefined
  if (Array.isArray(value)) return value.map(exportTarget).find((t) => t !== undefined)
  if ('.' in value) return exportTarget(value['.'])
  for (const key of CONDITIONS) {
    if (key in value) {
      const target = exportTarget(value[key])
      if (target !== undefined) return target
    }
  }
  return undefined
}

/** What a package's `package.json` says about it. */
export interface PackageManifest {
  name: string
  version: string
  /** The entry file, relative to the package folder. */
  entry: string
}

/** Reads a plugin package's manifest; throws with the reason when it cannot be used. */
export const readManifest = (dir: string): PackageManifest => {
  const raw = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name?: unknown
    version?: unknown
    exports?: Exports
    main?: unknown
  }
  if (typeof raw.name !== 'string' || !NPM_NAME.test(raw.name))
    throw new Error('package.json has no valid name')
  const version = typeof raw.version === 'string' ? raw.version : '0.0.0'
  const target =
    raw.exports !== undefined
      ? exportTarget(raw.exports)
      : typeof raw.main === 'string'
        ? raw.main
        : 'index.js'
  if (!target)
    throw new Error(
      "package.json exports nothing an `import` of the package can load ('.' with import/default)",
    )
  const entry = target.replace(/^\.\//, '')
  // The entry stays inside the package: a manifest never points the loader elsewhere on disk.
  if (entry.startsWith('/') || entry.split('/').includes('..'))
    throw new Error(`entry '${target}' leaves the package`)
  return { name: raw.name, version, entry }
}

/**
 * A package as a registry candidate. Its import carries the reload's stamp, which the plugin
 * resolver passes on to the package's relative imports, so a reload sees the files as they are now.
 */
export const packageCandidate = (pkg: FoundPackage, stamp: string): PluginCandidate => {
  const name = pluginNameOf(pkg.name)
  let manifest: PackageManifest
  try {
    manifest = readManifest(pkg.dir)
  } catch (err) {
    const reason =
      err instanceof SyntaxError
        ? `package.json is not JSON: ${err.message}`
        : (err as Error).message
    return {
      name,
      entry: 'package.json',
      package: { name: pkg.name, version: 'unknown' },
      load: () => Promise.reject(new Error(reason)),
    }
  }
  const file = join(pkg.dir, manifest.entry)
  return {
    name,
    entry: manifest.entry,
    package: { name: pkg.name, version: manifest.version },
    load: () => {
      if (!existsSync(file)) return Promise.reject(new Error(`${manifest.entry} is missing`))
      return import(`${pathToFileURL(file).href}?${PLUGIN_STAMP}=${stamp}`)
    },
  }
}
