import {
  defineAgent,
  type ExecOutcome,
  type PluginContext,
  type Reply,
} from 'workers-spawner/plugin'

/** The Gemini CLI release baked into the image. */
export const GEMINI_CLI_VERSION = '0.61.0'

/** Used when neither the worker's env nor the spawner's sets `GEMINI_MODEL`. */
export const DEFAULT_MODEL = 'gemini-2.5-pro'

/** Prompts larger than this go through stdin: Linux refuses one argv string over 128 KiB. */
const MAX_ARGV_PROMPT_BYTES = 100_000

/** The worker's setting, else the spawner's: a gateway or model set once for every worker. */
const setting = (ctx: PluginContext, name: string): string | undefined =>
  ctx.configEnv[name] || ctx.hostEnv[name] || undefined

/**
 * `~/.gemini/settings.json`. The CLI refuses a base URL and key without an auth type
 * ("Invalid auth method"); the rest keeps it from calling anything but the model.
 */
export const geminiSettings = (ctx: PluginContext) => {
  const attempts = Number(setting(ctx, 'GEMINI_MAX_ATTEMPTS'))
  return {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: {
      enableAutoUpdate: false,
      enableAutoUpdateNotification: false,
      // The CLI retries a failing model call up to 10 times with backoff (minutes); caps it.
      ...(Number.isInteger(attempts) && attempts >= 1
        ? { maxAttempts: Math.min(attempts, 10) }
        : {}),
    },
    // A named model: the CLI's `auto` default first asks a router model which one to use.
    model: { name: setting(ctx, 'GEMINI_MODEL') ?? DEFAULT_MODEL },
  }
}

interface GeminiError {
  type?: string
  message?: string
}

/** `--output-format json`: one object, on stdout when the run succeeds and on stderr when not. */
interface JsonResult {
  session_id?: string
  response?: unknown
  stats?: {
    models?: Record<string, { tokens?: { prompt?: number; candidates?: number; cached?: number } }>
  }
  error?: GeminiError
}

/** One line of `--output-format stream-json` (`init`, `message`, `tool_use`, `result`, …). */
interface StreamEvent {
  type: string
  session_id?: string
  role?: string
  content?: unknown
  status?: string
  severity?: string
  message?: string
  error?: GeminiError
  stats?: { input_tokens?: number; output_tokens?: number; cached?: number }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

const streamEvents = (stdout: string): StreamEvent[] =>
  stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      const v: unknown = JSON.parse(line)
      return isObject(v) && typeof v.type === 'string' ? [v as unknown as StreamEvent] : []
    } catch {
      return [] // cut off by the output cap
    }
  })

/** The last pretty-printed top-level object in `s` (log lines may come before it). */
const jsonResult = (s: string): JsonResult | undefined => {
  const lines = s.split('\n')
  for (let start = lines.length - 1; start >= 0; start--) {
    if (lines[start] !== '{') continue
    const end = lines.indexOf('}', start)
    if (end < 0) continue
    try {
      const v: unknown = JSON.parse(lines.slice(start, end + 1).join('\n'))
      if (isObject(v) && ('response' in v || 'error' in v)) return v as JsonResult
    } catch {
      // not the CLI's object: keep looking
    }
  }
  return undefined
}

/** Lines of stderr that say something: no stack frames and no start-up notices. */
const NOISE =
  /^\s+at |^(Warning: 256-color|YOLO mode is enabled|Ripgrep is not available|\[STARTUP\])/
const gist = (s: string, n = 500): string => {
  const said = s
    .split('\n')
    .filter((l) => l.trim() && !NOISE.test(l))
    .join('\n')
    .trim()
  return said.length > n ? `…${said.slice(-n)}` : said
}

const reported = (e: GeminiError | undefined, also: string[] = []): string => {
  const kind = e?.type ? ` (${e.type})` : ''
  return `gemini reported an error${kind}: ${e?.message || also.join('; ') || 'no message'}`
}

const noResult = (out: ExecOutcome): string => {
  if (out.timedOut) return `gemini timed out after ${out.durationMs} ms without a result`
  const said = gist(out.stderr) || gist(out.stdout) || 'no output'
  return `gemini exited ${out.exitCode} without a result: ${said}`
}

const fromStream = (events: StreamEvent[], out: ExecOutcome): Reply => {
  let sessionId: string | undefined
  let text = ''
  let result: StreamEvent | undefined
  const errors: string[] = []
  for (const e of events) {
    if (e.type === 'init' && e.session_id) {
      sessionId = e.session_id
    } else if (e.type === 'message' && e.role === 'assistant' && typeof e.content === 'string') {
      text += e.content
    } else if (e.type === 'tool_use' || e.type === 'tool_result') {
      // The reply is the last model turn's text, as `--output-format json` gives it.
      text = ''
    } else if (e.type === 'error' && e.severity === 'error' && e.message) {
      errors.push(e.message)
    } else if (e.type === 'result') {
      result = e
    }
  }
  if (!result) throw new Error(noResult(out))
  if (result.status !== 'success') throw new Error(reported(result.error, errors))
  const s = result.stats ?? {}
  return {
    text,
    ...(sessionId ? { sessionId } : {}),
    usage: {
      inputTokens: num(s.input_tokens),
      outputTokens: num(s.output_tokens),
      cachedInputTokens: num(s.cached),
    },
    raw: result,
  }
}

const fromJson = (r: JsonResult): Reply => {
  if (r.error) throw new Error(reported(r.error))
  const models = Object.values(r.stats?.models ?? {})
  const sum = (key: 'prompt' | 'candidates' | 'cached') =>
    models.reduce((n, m) => n + num(m?.tokens?.[key]), 0)
  return {
    text: typeof r.response === 'string' ? r.response : '',
    ...(r.session_id ? { sessionId: r.session_id } : {}),
    // The CLI's own split: `prompt` counts cached tokens too; thinking tokens are not output.
    usage: {
      inputTokens: sum('prompt'),
      outputTokens: sum('candidates'),
      cachedInputTokens: sum('cached'),
    },
    raw: r,
  }
}

/**
 * Turns Gemini CLI output (`json` or `stream-json`) into a reply. A run that failed (an error
 * object, a result whose status is not `success`, or no result at all) throws an Error that says
 * why, so an error never reads as the model's answer.
 */
export const parseGeminiOutput = (out: ExecOutcome): Reply => {
  const events = streamEvents(out.stdout)
  if (events.length > 0) return fromStream(events, out)
  const r = jsonResult(out.stdout) ?? jsonResult(out.stderr)
  if (!r) throw new Error(noResult(out))
  return fromJson(r)
}

/**
 * Gemini CLI (`@google/gemini-cli`) run headless: `gemini --prompt` with JSON output (stream-json
 * when streaming), every tool call approved (the container is the sandbox), sessions continued
 * with `--resume`.
 * @example
 * { "agent": "gemini-cli",
 *   "env": { "GOOGLE_GEMINI_BASE_URL": "http://gateway:4000", "GEMINI_MODEL": "gemini-2.5-flash" } }
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'gemini-cli',
  version: '1.0.0',
  description: `Gemini CLI ${GEMINI_CLI_VERSION} (gemini --prompt, json or stream-json, --resume)`,
  install: [
    // The CLI's search tool uses ripgrep when it is on PATH and a slower fallback otherwise.
    { apt: ['ripgrep'] },
    { npm: [`@google/gemini-cli@${GEMINI_CLI_VERSION}`] },
    { run: 'gemini --version' },
  ],
  secrets: [
    { name: 'GEMINI_API_KEY', description: 'Gemini API key (or the key of a model gateway)' },
  ],
  env: (ctx) => {
    const env: Record<string, string> = {
      // Headless runs stop at the folder-trust question without this.
      GEMINI_CLI_TRUST_WORKSPACE: 'true',
      // The CLI otherwise starts a second Node process to raise its heap to half the host's
      // memory (not the container's): ~0.6 s more per prompt, for nothing a worker needs.
      GEMINI_CLI_NO_RELAUNCH: 'true',
    }
    const base = ctx.hostEnv.GOOGLE_GEMINI_BASE_URL
    if (base) env.GOOGLE_GEMINI_BASE_URL = base
    return env
  },
  files: (ctx) => ({
    '~/.gemini/settings.json': `${JSON.stringify(geminiSettings(ctx), null, 2)}\n`,
  }),
  prompt: (req) => {
    const viaStdin = new TextEncoder().encode(req.prompt).length > MAX_ARGV_PROMPT_BYTES
    // `--opt=value` keeps a prompt or session id that starts with a dash from reading as an option.
    const argv = [
      'gemini',
      // Empty: the CLI appends stdin to the prompt, so a long prompt arrives whole through stdin.
      `--prompt=${viaStdin ? '' : req.prompt}`,
      `--output-format=${req.stream ? 'stream-json' : 'json'}`,
      '--approval-mode=yolo',
    ]
    if (req.sessionId) argv.push(`--resume=${req.sessionId}`)
    return viaStdin ? { argv, stdin: req.prompt } : { argv }
  },
  parse: parseGeminiOutput,
})
