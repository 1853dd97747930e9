import {
  defineAgent,
  type ExecOutcome,
  type PluginContext,
  type Reply,
} from 'workers-spawner/plugin'

/** The opencode release baked into the image. */
export const OPENCODE_VERSION = '1.18.33'

/** Where the worker's opencode reads its global config (`~` is the worker's home). */
export const CONFIG_PATH = '~/.config/opencode/opencode.json'

/** The id of the provider written for `OPENCODE_PROVIDER_BASE_URL`: models are `gateway/<id>`. */
export const PROVIDER_ID = 'gateway'

/** Env names this plugin reads (WorkerConfig `env` first, then the spawner's environment). */
export const ENV = {
  baseUrl: 'OPENCODE_PROVIDER_BASE_URL',
  api: 'OPENCODE_PROVIDER_API',
  apiKey: 'OPENCODE_PROVIDER_API_KEY',
  model: 'OPENCODE_MODEL',
} as const

/**
 * The wire APIs a gateway may speak, each with the AI SDK package opencode bundles for it (so
 * nothing is downloaded at run time) and the path it appends to the base URL.
 */
const PROVIDER_APIS: Record<string, string> = {
  'openai-compatible': '@ai-sdk/openai-compatible', // POST <base>/chat/completions
  anthropic: '@ai-sdk/anthropic', // POST <base>/messages
  openai: '@ai-sdk/openai', // POST <base>/responses
}

/** What the worker's env says about the model; throws on a setting opencode could not use. */
const settings = (ctx: PluginContext) => {
  const read = (name: string) => ctx.configEnv[name] || ctx.hostEnv[name] || undefined
  const baseUrl = read(ENV.baseUrl)
  const api = read(ENV.api) ?? 'openai-compatible'
  const model = read(ENV.model)
  if (!Object.hasOwn(PROVIDER_APIS, api)) {
    const known = Object.keys(PROVIDER_APIS).join(', ')
    throw new Error(`${ENV.api} must be one of ${known}, not '${api}'`)
  }
  if (baseUrl && !/^https?:\/\/\S+$/.test(baseUrl)) {
    throw new Error(`${ENV.baseUrl} is not an http(s) URL`)
  }
  if (baseUrl && !model) {
    throw new Error(`${ENV.model} must name the model to ask at ${ENV.baseUrl}`)
  }
  return { baseUrl, npm: PROVIDER_APIS[api]!, model, hasKey: Boolean(read(ENV.apiKey)) }
}

/**
 * The global opencode config for a worker: no update checks or sharing, and, with a base URL,
 * one custom provider whose key opencode reads from the environment when it runs (`{env:…}`),
 * so the key never lands in the file.
 */
export const opencodeConfig = (ctx: PluginContext): Record<string, unknown> => {
  const s = settings(ctx)
  const config: Record<string, unknown> = { autoupdate: false, share: 'disabled' }
  if (!s.model) return config
  const model = s.baseUrl ? `${PROVIDER_ID}/${s.model}` : s.model
  // The small model writes titles and summaries; by default it is a hosted one.
  Object.assign(config, { model, small_model: model })
  if (s.baseUrl) {
    const options: Record<string, string> = { baseURL: s.baseUrl.replace(/\/+$/, '') }
    if (s.hasKey) options.apiKey = `{env:${ENV.apiKey}}`
    config.provider = {
      [PROVIDER_ID]: {
        npm: s.npm,
        name: 'Model gateway',
        options,
        models: { [s.model]: { name: s.model } },
      },
    }
  }
  return config
}

/** One line of `opencode run --format json`: `{ type, timestamp, sessionID, part? | error? }`. */
interface RunEvent {
  type: string
  sessionID?: string
  part?: {
    type?: string
    messageID?: string
    text?: string
    tokens?: {
      input?: number
      output?: number
      reasoning?: number
      cache?: { read?: number; write?: number }
    }
    cost?: number
  }
  error?: { name?: string; data?: { message?: unknown } }
}

const events = (stdout: string): RunEvent[] =>
  stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      const value: unknown = JSON.parse(line)
      const isEvent = typeof value === 'object' && value !== null && 'type' in value
      return isEvent ? [value as RunEvent] : []
    } catch {
      return [] // not a JSON line (or cut off by the output cap)
    }
  })

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').trim()
const tail = (s: string, n = 500) => (s.length > n ? `…${s.slice(-n)}` : s)

/** Why a run failed, in one line, or undefined when it did not. */
const failure = (all: RunEvent[], out: ExecOutcome): string | undefined => {
  const errors = all.filter((e) => e.type === 'error')
  if (errors.length > 0) {
    const said = errors.map((e) => {
      const message = e.error?.data?.message
      return `${e.error?.name ?? 'error'}: ${typeof message === 'string' ? message : 'no message'}`
    })
    return `opencode reported an error (${said.join('; ')})`
  }
  if (out.timedOut) return `opencode timed out after ${out.durationMs} ms`
  if (out.exitCode !== 0) {
    return `opencode exited ${out.exitCode}: ${tail(plain(out.stderr)) || 'no message'}`
  }
  if (!all.some((e) => e.type === 'step_finish')) {
    const said = tail(plain(out.stderr) || out.stdout.trim())
    return `opencode finished no step: ${said || 'no output'}`
  }
  return undefined
}

/**
 * Turns `opencode run --format json` output into a reply: the text of the last assistant message
 * that has any (earlier ones precede tool calls), the session id, and tokens and cost summed over
 * every step. A run that failed (an `error` event, a non-zero exit, a timeout, no finished step)
 * throws an Error that says why, so an error never reads as the model's answer.
 */
export const parseOpencodeOutput = (out: ExecOutcome): Reply => {
  const all = events(out.stdout)
  const why = failure(all, out)
  if (why) throw new Error(why)
  const texts = all.filter((e) => e.type === 'text' && typeof e.part?.text === 'string')
  const lastMessage = texts.at(-1)?.part?.messageID
  const text = texts
    .filter((e) => e.part?.messageID === lastMessage)
    .map((e) => e.part!.text!)
    .join('\n\n')
  const usage = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
    costUsd: 0,
  }
  for (const e of all) {
    if (e.type !== 'step_finish') continue
    const t = e.part?.tokens ?? {}
    const cacheRead = num(t.cache?.read)
    const cacheWrite = num(t.cache?.write)
    // opencode counts cached prompt tokens and reasoning apart; these are all that were billed.
    usage.inputTokens += num(t.input) + cacheRead + cacheWrite
    usage.outputTokens += num(t.output) + num(t.reasoning)
    usage.cacheReadInputTokens += cacheRead
    usage.cacheWriteInputTokens += cacheWrite
    usage.costUsd += num(e.part?.cost)
  }
  const sessionId = all.find((e) => e.sessionID)?.sessionID
  return { text, ...(sessionId ? { sessionId } : {}), usage, raw: all }
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
  install: [
    // grep/glob tools use rg from PATH; without it opencode downloads one at run time.
    { apt: ['ripgrep'] },
    { npm: [`opencode-ai@${OPENCODE_VERSION}`] },
    { run: 'opencode --version' },
  ],
  secrets: [{ name: ENV.apiKey, description: `API key sent to ${ENV.baseUrl}` }],
  env: (ctx) => {
    settings(ctx) // a setting opencode cannot use fails the create, before any container starts
    return {
      // The model list is built in; refreshing it is the only request besides the model's.
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    }
  },
  files: (ctx) => ({ [CONFIG_PATH]: `${JSON.stringify(opencodeConfig(ctx), null, 2)}\n` }),
  prompt: (req) => {
    const argv = ['opencode', 'run', '--format', 'json', '--auto']
    // One argument, so a session id can never be taken for another option.
    if (req.sessionId) argv.push(`--session=${req.sessionId}`)
    // A bare --title names a new session after the prompt instead of asking the model for a title.
    else argv.push('--title')
    // On stdin, verbatim: opencode quotes message arguments that contain spaces.
    return { argv, stdin: req.prompt }
  },
  parse: parseOpencodeOutput,
})
