import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { contentTypeOf, type UiAsset, type UiAssets } from './assets.ts'

const STATIC = fileURLToPath(new URL('./static/', import.meta.url))

/** Files of installed packages the dashboard serves, by the path it serves them at. */
const vendored = (): Record<string, string> => {
  const require = createRequire(import.meta.url)
  const xterm = dirname(require.resolve('@xterm/xterm'))
  const fit = dirname(require.resolve('@xterm/addon-fit'))
  return {
    'vendor/xterm/xterm.mjs': join(xterm, 'xterm.mjs'),
    'vendor/xterm/xterm.css': join(xterm, '..', 'css', 'xterm.css'),
    'vendor/xterm/addon-fit.mjs': join(fit, 'addon-fit.mjs'),
  }
}

const walk = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])),
  )
  return nested.flat()
}

/**
 * Reads the dashboard's files (src/ui/static and the vendored packages) into memory, once:
 * they are small, and serving from memory keeps every request off the disk.
 * @example
 * const app = createApp({ service, ui: await loadUiAssets() })
 */
export const loadUiAssets = async (): Promise<UiAssets> => {
  const sources: [string, string][] = (await walk(STATIC)).map((file) => [
    relative(STATIC, file).split(sep).join('/'),
    file,
  ])
  sources.push(...Object.entries(vendored()))
  sources.sort(([a], [b]) => (a < b ? -1 : 1))
  const files = new Map<string, UiAsset>()
  const hash = createHash('sha256')
  for (const [path, file] of sources) {
    const body = new Uint8Array(await readFile(file))
    files.set(path, { body, type: contentTypeOf(path) })
    hash.update(path).update('\0').update(body)
  }
  return { version: hash.digest('hex').slice(0, 12), files }
}
