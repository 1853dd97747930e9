import { defineAgent, jsonLines, noResult, num, obj, str } from 'workers-spawner/plugin'
import type { PluginContext } from 'workers-spawner/plugin'
import { RETRY_CAP_FILES } from './retry-cap.ts'

/** The opencode release baked into the image. */
export const OPENCODE_VERSION = '1.18.33'

/** Where the worker's opencode reads its global config (`~` is the worker's home). */
export const CONFIG_PATH = '~/.config/opencode/opencode.json'

/** The id of the provider written for `OPENCODE_PROVIDER_BASE_URL`: models are `gateway/<id>`. */
export const PROVIDER_ID = 'gateway'

const BASE_URL = 'OPENCODE_PROVIDER_BASE_URL'
const RUN = ['opencode', 'run', '--format', 'json', '--auto']

/**
 * `OPENCODE_DISABLE_*` switches the plugin sets to 1: no model-list refresh (the list is built
 * in; refreshing it is the only request besides the model's), update checks, sharing or LSP
 * downloads.
 */
const QUIET = ['MODELS_FETCH', 'AUTOUPDATE', 'SHARE', 'LSP_DOWNLOAD']

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

/**
 * opencode (`opencode-ai`) run headless: `opencode run --format json` with the prompt on stdin,
 * permissions auto-approved (the container is the sandbox), sessions continued with `--session`.
 * @example
 * {
 *   "agent": "opencode",
 *   "env": {
 *     "OPENCODE_PROVIDER_BASE_URL": "http://gateway:4000/v1",
 *     "OPENCODE_MODEL": "qwen3-coder"
 *   }
 * }
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'opencode',
  version: '1.0.0',
  description: `opencode ${OPENCODE_VERSION} (opencode run --format json; sessions via --session)`,
  // grep/glob tools use rg from PATH; without it opencode downloads one at run time.
  install: [{ apt: ['ripgrep'] }],
  cli: { npm: `opencode-ai@${OPENCODE_VERSION}`, bin: 'opencode' },
  gateway: { keys: ['OPENCODE_PROVIDER_API_KEY'], baseUrl: BASE_URL },
  env: (ctx) => {
    // A setting opencode cannot use fails the create here, before any container starts.
    opencodeConfig(ctx)
    return {
      ...Object.fromEntries(QUIET.map((s) => [`OPENCODE_DISABLE_${s}`, '1'])),
      // A failing model fails the prompt in seconds (the retry-cap plugin), not after ~70 s.
      OPENCODE_MAX_RETRIES: ctx.setting('OPENCODE_MAX_RETRIES') ?? '2',
    }
  },
  files: (ctx) => ({ [CONFIG_PATH]: opencodeConfig(ctx), ...RETRY_CAP_FILES }),
  // On stdin, verbatim: opencode quotes message arguments that contain spaces.
  promptVia: 'stdin',
  // One argument, so a session id can never be taken for another option; a bare --title names a
  // new session after the prompt instead of asking the model for a title.
  prompt: ({ sessionId: id }) => ({ argv: [...RUN, id ? `--session=${id}` : '--title'] }),
  // `opencode run --format json` prints `{ type, timestamp, sessionID, part? | error? }` lines.
  // The reply is the text of the last assistant message that has any (earlier ones precede tool
  // calls); tokens and cost are summed over every step.
  parse: (out) => {
    const all = jsonLines(out.stdout).filter((e) => 'type' in e)
    const errs = all.filter((e) => e.type === 'error').map((e) => obj(e.error))
    const why = errs.map((e) => `${e.name ?? 'error'}: ${str(obj(e.data).message) ?? 'no message'}`)
    if (why.length) throw new Error(`opencode reported an error (${why.join('; ')})`)
    const steps = all.filter((e) => e.type === 'step_finish').map((e) => obj(e.part))
    if (out.timedOut || out.exitCode !== 0 || !steps.length) return noResult()
    const parts = all.map((e) => obj(e.part)).filter((p) => p.type === 'text' && str(p.text))
    const message = parts.at(-1)?.messageID
    const text = parts.flatMap((p) => (p.messageID === message ? [p.text] : [])).join('\n\n')
    // opencode counts cached prompt tokens and reasoning apart; these are all that were billed.
    const flat = steps.map(({ tokens: t, cost }) => obj({ ...obj(t), ...obj(obj(t).cache), cost }))
    const sum = (...ks: string[]) => flat.reduce((n, s) => ks.reduce((m, k) => m + num(s[k]), n), 0)
    const [inputTokens, outputTokens] = [sum('input', 'read', 'write'), sum('output', 'reasoning')]
    const [cacheReadInputTokens, cacheWriteInputTokens] = [sum('read'), sum('write')]
    const usage = { inputTokens, outputTokens, cacheReadInputTokens, cacheWriteInputTokens }
    const sessionId = str(all.find((e) => e.sessionID)?.sessionID)
    return { text, sessionId, usage: { ...usage, costUsd: sum('cost') }, raw: all }
  },
})
