import type {
  AgentDefinition,
  AgentPlugin,
  CapabilityDefinition,
  CapabilityPlugin,
} from './schema.ts'

/**
 * The plugin contract, apiVersion v1: the only module a plugin imports
 * (`import { defineAgent } from 'workers-spawner/plugin'`). A plugin is a folder
 * `plugins/<name>/` whose `index.ts` default-exports the result of `defineAgent()` or
 * `defineCapability()`. Besides the two, it exports the schemas and types (`schema.ts`), the
 * helpers for reading a CLI's output (`kit.ts`), and the functions the core calls hooks through
 * (`hooks.ts`), so a plugin's tests call its hooks exactly as the core does.
 */

export * from './schema.ts'
export * from './kit.ts'
export * from './updates.ts'
export {
  agentPrompt,
  agentReply,
  agentUpdates,
  createContext,
  noResultMessage,
  pluginFileContents,
  pluginInstallSteps,
  pluginPermissions,
  promptDelivery,
} from './hooks.ts'

/**
 * Declares an agent plugin.
 * @example
 * export default defineAgent({
 *   apiVersion: 'v1', name: 'my-cli', version: '1.0.0', description: 'My CLI',
 *   cli: { npm: 'my-cli@1.0.0', bin: 'my-cli' },
 *   promptVia: 'auto',
 *   prompt: (req) => ({ argv: ['my-cli', '--json', ...(req.via === 'argv' ? [req.prompt] : [])] }),
 *   parse: (out) => {
 *     const r = lastJson(out.stdout, (v) => v.type === 'result')
 *     return r ? { text: String(r.text), raw: r } : noResult()
 *   },
 * })
 */
export const defineAgent = (def: AgentDefinition): AgentPlugin => ({ ...def, kind: 'agent' })

/**
 * Declares a capability plugin.
 * @example
 * export default defineCapability({
 *   apiVersion: 'v1', name: 'jq', version: '1.0.0', description: 'jq JSON processor',
 *   install: [{ apt: ['jq'] }],
 * })
 */
export const defineCapability = (def: CapabilityDefinition): CapabilityPlugin => ({
  ...def,
  kind: 'capability',
})
