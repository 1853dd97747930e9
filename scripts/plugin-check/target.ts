import { existsSync, realpathSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { PluginCandidate } from '../../src/core/plugin/registry.ts'
import { folderCandidate } from '../../src/node/plugin-loader.ts'
import { packageCandidate, readManifest } from '../../src/node/plugin-packages.ts'
import { NPM_NAME } from '../../src/settings.ts'

/** A plugin to check: where it is and how the registry imports it. */
export interface CheckTarget {
  /** What was asked for: a folder or a package name. */
  arg: string
  /** The plugin's name (the folder's name, or the package's name without scope and prefix). */
  name: string
  /** The plugin folder or package root: where its README.md and plugin-check.json are. */
  dir: string
  candidate: PluginCandidate
  /** The project's own plugin (then the kit knows how to point it at the stub model). */
  bundled: boolean
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory()
const real = (p: string) => (existsSync(p) ? realpathSync(p) : p)

/**
 * Resolves a command-line argument: a folder (a plugin folder, or a package's folder when it has
 * a `package.json`), else the name of a package installed in `nodeModules`. Throws with what to fix.
 */
export const resolveTarget = (
  arg: string,
  opts: { nodeModules: string; pluginsDir: string },
): CheckTarget => {
  const stamp = `check-${Date.now()}`
  const asPackage = (dir: string): CheckTarget => {
    const manifest = readManifest(dir)
    const candidate = packageCandidate({ name: manifest.name, dir: real(dir) }, stamp)
    return { arg, name: candidate.name, dir: real(dir), candidate, bundled: false }
  }
  if (isDir(arg)) {
    const dir = resolve(arg)
    if (existsSync(join(dir, 'package.json'))) return asPackage(dir)
    const name = basename(dir)
    const candidate = folderCandidate(dir, name, stamp)
    if (!candidate)
      throw new Error(`${arg}: no index.ts, index.js or index.mjs (and no package.json)`)
    return {
      arg,
      name,
      dir: real(dir),
      candidate,
      bundled: real(dir) === real(join(opts.pluginsDir, name)),
    }
  }
  if (!NPM_NAME.test(arg)) throw new Error(`${arg}: neither a folder nor an npm package name`)
  const dir = join(opts.nodeModules, arg)
  if (!isDir(dir))
    throw new Error(
      `${arg}: not a folder, and no such package in ${opts.nodeModules} (PLUGIN_NODE_MODULES)`,
    )
  return asPackage(dir)
}
