import { register } from 'node:module'

const contract = new URL('../core/plugin/contract.ts', import.meta.url).href

/**
 * The query parameter every plugin import carries (a per-reload stamp). Node caches modules by
 * URL, so a new stamp imports the plugin's files afresh.
 */
export const PLUGIN_STAMP = 'ws-plugin'

// A relative import from a stamped module gets the same stamp: a reload then sees a plugin's
// other files as they are now, not only its entry. Bare imports (its dependencies) stay cached.
const hook = `const contract = ${JSON.stringify(contract)}
const stamp = ${JSON.stringify(PLUGIN_STAMP)}
export async function resolve(specifier, context, next) {
  if (specifier === 'workers-spawner/plugin') return { url: contract, shortCircuit: true }
  const resolved = await next(specifier, context)
  const parent = context.parentURL
  if (!parent || !parent.startsWith('file:') || !/^\\.\\.?\\//.test(specifier)) return resolved
  if (!resolved.url.startsWith('file:') || resolved.url.includes('?')) return resolved
  const value = new URL(parent).searchParams.get(stamp)
  if (!value) return resolved
  return { ...resolved, url: resolved.url + '?' + stamp + '=' + encodeURIComponent(value) }
}`

let registered = false

/**
 * Lets plugins anywhere on disk (PLUGINS_DIR outside this checkout, packages in any
 * node_modules) import 'workers-spawner/plugin': the specifier is resolved to this checkout's
 * contract. Registering twice is a no-op.
 */
export const registerPluginResolver = (): void => {
  if (registered) return
  registered = true
  register(`data:text/javascript,${encodeURIComponent(hook)}`)
}
