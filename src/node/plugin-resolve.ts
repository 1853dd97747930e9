import { register } from 'node:module'

const contract = new URL('../core/plugin/contract.ts', import.meta.url).href

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'workers-spawner/plugin') return { url: ${JSON.stringify(contract)}, shortCircuit: true }
  return next(specifier, context)
}`

/**
 * Lets plugins anywhere on disk (PLUGINS_DIR outside this checkout) import
 * 'workers-spawner/plugin': the specifier is resolved to this checkout's contract.
 */
export const registerPluginResolver = (): void => {
  register(`data:text/javascript,${encodeURIComponent(hook)}`)
}
