import type { PluginContext } from 'workers-spawner/plugin'

/** Where the worker's opencode reads its global config (`~` is the worker's home). */
export const CONFIG_PATH = '~/.config/opencode/opencode.json'

/** The id of the provider written for `OPENCODE_PROVIDER_BASE_URL`: models are `gateway/<id>`. */
export const PROVIDER_ID = 'gateway'

/** The setting that names the model gateway's base URL. */
export const BASE_URL = 'OPENCODE_PROVIDER_BASE_URL'

/**
 * The global opencode config for a worker, from `OPENCODE_PROVIDER_BASE_URL`, `OPENCODE_MODEL`,
 * `OPENCODE_PROVIDER_API` and `OPENCODE_PROVIDER_API_KEY` (the worker's env first, then the
 * spawner's): no update checks or sharing, and, with a base URL, one custom provider whose key
 * opencode reads from the environment when it runs (`{env:…}`), so the key never lands in the
 * file. The wire API picks the AI SDK package opencode bundles (so nothing is downloaded at run
 * time): `openai-compatible` (POST <base>/chat/completions), `anthropic` (<base>/messages) or
 * `openai` (<base>/responses). Throws on a setting opencode could not use.
 */
export const opencodeConfig = ({ setting, choice }: PluginContext) => {
  const [url, model] = [setting(BASE_URL), setting('OPENCODE_MODEL')]
  const api = choice('OPENCODE_PROVIDER_API', ['openai-compatible', 'anthropic', 'openai'])
  if (url && !/^https?:\/\/\S+$/.test(url)) throw new Error(`${BASE_URL} is not an http(s) URL`)
  if (url && !model) throw new Error(`OPENCODE_MODEL must name the model to ask at ${BASE_URL}`)
  const apiKey = setting('OPENCODE_PROVIDER_API_KEY') && '{env:OPENCODE_PROVIDER_API_KEY}'
  const options = { baseURL: url?.replace(/\/+$/, ''), apiKey }
  const models = model && { [model]: { name: model } }
  const gateway = { npm: `@ai-sdk/${api}`, name: 'Model gateway', options, models }
  const provider = url && { [PROVIDER_ID]: gateway }
  // The small model writes titles and summaries; by default it is a hosted one.
  const named = url ? `${PROVIDER_ID}/${model}` : model
  return { autoupdate: false, share: 'disabled', model: named, small_model: named, provider }
}
