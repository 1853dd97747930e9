import {
  defineAgent,
  type ExecOutcome,
  type PluginContext,
  type Reply,
} from 'workers-spawner/plugin'

/** The launcher package; it finds the native binary in the platform package below. */
export const CLI_PACKAGE = '@factory/cli@0.225.1'
/**
 * The native x64 (AVX2) binary. Installed explicitly because the launcher's optional dependency
 * asks for the same version as itself, which the registry does not have.
 */
export const BINARY_PACKAGE = '@factory/cli-linux-x64@0.225.2'

/** What a custom model's `provider` may be: the API droid speaks to `base_url`. */
export const PROVIDERS = ['generic-chat-completion-api', 'openai', 'anthropic'] as const
type Provider = (typeof PROVIDERS)[number]

/** A bring-your-own model, as read from the worker's env. */
export interface CustomModel {
  /** droid's id for it: `custom:<display name, spaces as dashes>-<index>`. */
  id: string
  displayName: string
  model: string
  baseUrl: string
  provider: Provider
  apiKey?: string
}

/** The worker config's env first, then the spawner's; empty counts as unset. */
const setting = (ctx: PluginContext, name: string): string | undefined =>
  [ctx.configEnv[name], ctx.hostEnv[name]].find((v) => v !== undefined && v !== '')

/**
 * The custom model configured by `FACTORY_MODEL_BASE_URL`, `FACTORY_MODEL`,
 * `FACTORY_MODEL_PROVIDER`, `FACTORY_MODEL_NAME` and `FACTORY_MODEL_API_KEY`; undefined without
 * a base URL. Throws (refusing the worker) on an incomplete or invalid one.
 */
export const customModel = (ctx: PluginContext): CustomModel | undefined => {
  const baseUrl = setting(ctx, 'FACTORY_MODEL_BASE_URL')
  if (!baseUrl) return undefined
  const model = setting(ctx, 'FACTORY_MODEL')
  if (!model) {
    throw new Error('FACTORY_MODEL_BASE_URL is set but FACTORY_MODEL (the model to request) is not')
  }
  const provider = setting(ctx, 'FACTORY_MODEL_PROVIDER') ?? 'generic-chat-completion-api'
  if (!(PROVIDERS as readonly string[]).includes(provider)) {
    throw new Error(
      `FACTORY_MODEL_PROVIDER must be one of ${PROVIDERS.join(', ')}, not '${provider}'`,
    )
  }
  const displayName = (setting(ctx, 'FACTORY_MODEL_NAME') ?? model).trim()
  // The spawner's key goes only to the spawner's endpoint: a worker config that names its own
  // base URL brings its own key, or a sub-worker could send the operator's key anywhere.
  const apiKey = ctx.configEnv.FACTORY_MODEL_BASE_URL
    ? ctx.configEnv.FACTORY_MODEL_API_KEY || undefined
    : setting(ctx, 'FACTORY_MODEL_API_KEY')
  return {
    id: `custom:${displayName.replace(/\s+/g, '-')}-0`,
    displayName,
    model,
    baseUrl,
    provider: provider as Provider,
    ...(apiKey ? { apiKey } : {}),
  }
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n'

/** One line of droid's JSON output (`-o json` prints one, `-o stream-json` one per event). */
interface DroidEvent {
  type?: string
  subtype?: string
  is_error?: boolean
  result?: string
  finalText?: string
  message?: string
  session_id?: string
  usage?: Record<string, number | undefined>
}

const events = (stdout: string): DroidEvent[] =>
  stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      return [JSON.parse(line) as DroidEvent]
    } catch {
      return []
    }
  })

const usageOf = (u: DroidEvent['usage']): Reply['usage'] =>
  u && {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadTokens: u.cache_read_input_tokens,
    cacheCreationTokens: u.cache_creation_input_tokens,
    factoryCredits: u.factory_credits,
  }

const LOG_HINT = 'details in ~/.factory/logs/droid-log-single.log in the worker'

/**
 * The reply from `droid exec -o json` or `-o stream-json` output. A failed run throws an Error
 * that carries droid's own message, so the caller gets an error rather than a reply to misread.
 */
export const parseDroid = (r: ExecOutcome): Reply => {
  const all = events(r.stdout)
  const last = all.findLast((e) => e.type === 'result' || e.type === 'completion')
  const text = last?.result ?? last?.finalText
  if (last && !last.is_error && text !== undefined) {
    return {
      text: text.trim(),
      ...(last.session_id ? { sessionId: last.session_id } : {}),
      ...(last.usage ? { usage: usageOf(last.usage) } : {}),
      raw: all.length === 1 ? all[0] : all,
    }
  }
  if (r.timedOut) throw new Error(`droid exec timed out after ${r.durationMs} ms`)
  const errors = all.filter((e) => e.type === 'error').map((e) => e.message ?? 'unknown error')
  const why = [...new Set(last?.is_error ? [...errors, last.result ?? 'failed'] : errors)]
  if (why.length > 0) {
    throw new Error(`droid exec failed (exit ${r.exitCode}): ${why.join('; ')} (${LOG_HINT})`)
  }
  const stderr = r.stderr.trim().slice(-500)
  throw new Error(
    `droid exec exited ${r.exitCode} without a result: ` +
      (stderr || `no output, as with an unknown sessionId (${LOG_HINT})`),
  )
}

/**
 * Factory's Droid CLI, headless (`droid exec`). Bring-your-own model through `FACTORY_MODEL_*`
 * (written to `~/.factory/config.json`, airgapped), or Factory's hosted models with
 * `FACTORY_API_KEY`.
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'factory-droid',
  version: '1.0.0',
  description:
    'Factory Droid CLI 0.225.1, headless (droid exec); Factory API key or a custom model',
  install: [{ npm: [BINARY_PACKAGE, CLI_PACKAGE] }, { run: 'droid --version' }],
  secrets: [
    { name: 'FACTORY_API_KEY', description: "Factory API key, for Factory's hosted models" },
  ],
  env: (ctx) => ({
    // The binary lives in a root-owned prefix; an update attempt could only fail.
    FACTORY_DROID_AUTO_UPDATE_ENABLED: 'false',
    // With a custom model droid needs none of Factory's hosts; without airgap it spends ~6 s
    // looking them up before every prompt.
    ...(customModel(ctx) ? { FACTORY_AIRGAP_ENABLED: '1' } : {}),
  }),
  files: (ctx) => {
    const custom = customModel(ctx)
    const model = custom?.id ?? setting(ctx, 'FACTORY_MODEL')
    const files: Record<string, string> = {}
    if (custom) {
      const entry = {
        model_display_name: custom.displayName,
        model: custom.model,
        base_url: custom.baseUrl,
        ...(custom.apiKey ? { api_key: custom.apiKey } : {}),
        provider: custom.provider,
      }
      files['~/.factory/config.json'] = json({ custom_models: [entry] })
    }
    // The default model of new sessions, so `droid exec` needs no `-m`.
    if (model) files['~/.factory/settings.json'] = json({ sessionDefaultSettings: { model } })
    return files
  },
  prompt: (req) => ({
    argv: [
      'droid',
      'exec',
      '--output-format',
      req.stream ? 'stream-json' : 'json',
      // The worker is the sandbox: no approvals, nobody to ask.
      '--skip-permissions-unsafe',
      // `--session-id` first fetches the session from Factory's servers, which airgap forbids;
      // `--fork` continues from the local transcript under a new session id.
      ...(req.sessionId ? ['--fork', req.sessionId] : []),
      '--',
      req.prompt,
    ],
  }),
  parse: parseDroid,
})
