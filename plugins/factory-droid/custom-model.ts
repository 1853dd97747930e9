import type { PluginContext } from 'workers-spawner/plugin'

/** What a custom model's `provider` may be: the API droid speaks to `base_url`. */
export const PROVIDERS = ['generic-chat-completion-api', 'openai', 'anthropic'] as const

/**
 * The custom model configured by `FACTORY_MODEL_BASE_URL`, `FACTORY_MODEL`,
 * `FACTORY_MODEL_PROVIDER`, `FACTORY_MODEL_NAME` and `FACTORY_MODEL_API_KEY` (the worker's env
 * first, then the spawner's): droid's id for it (`custom:<display name, spaces as dashes>-0`)
 * and its `custom_models` entry; undefined without a base URL. Throws (refusing the worker) on
 * an incomplete or invalid one.
 */
export const customModel = ({ setting, choice }: PluginContext) => {
  const [base_url, model] = [setting('FACTORY_MODEL_BASE_URL'), setting('FACTORY_MODEL')]
  if (!base_url) return undefined
  if (!model) throw new Error('FACTORY_MODEL_BASE_URL is set but FACTORY_MODEL (the model) is not')
  const provider = choice('FACTORY_MODEL_PROVIDER', PROVIDERS)
  const name = (setting('FACTORY_MODEL_NAME') ?? model).trim()
  // The gateway's credential, or the worker's own key for its own endpoint: the core never
  // hands the spawner's key to a plugin (see the plugin contract's `gateway`).
  const api_key = setting('FACTORY_MODEL_API_KEY')
  const entry = { model_display_name: name, model, base_url, api_key, provider }
  return { id: `custom:${name.replace(/\s+/g, '-')}-0`, entry }
}
