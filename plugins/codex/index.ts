import {
  defineAgent,
  type ExecOutcome,
  type PluginContext,
  type Reply,
} from 'workers-spawner/plugin'

/** The pinned `@openai/codex` release. */
export const CODEX_VERSION = '0.171.0'

/** Where the Responses API is when `OPENAI_BASE_URL` is not set. */
export const DEFAULT_BASE_URL = 'https://api.openai.com/v1'

const PROVIDER = 'custom'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// TOML basic strings accept JSON's escapes.
const toml = (s: string) => JSON.stringify(s)

/** What the worker's Codex config is made from. */
export interface CodexSettings {
  /** A Responses API base URL; the OpenAI API when absent. */
  baseUrl?: string | undefined
  /** The model; the CLI's own default when absent. */
  model?: string | undefined
  /** Whether `OPENAI_API_KEY` will be set (its value never goes into the file). */
  withKey: boolean
}

/**
 * `~/.codex/config.toml` for the worker: one Responses API provider (`OPENAI_BASE_URL`, or the
 * OpenAI API), keyed by `OPENAI_API_KEY` when there is one, the model when set, no approvals, no
 * sandbox of Codex's own (it needs user namespaces, which a worker without capabilities lacks;
 * the container is the sandbox), and no analytics or plugin/app lookups.
 */
export const codexConfig = ({ baseUrl, model, withKey }: CodexSettings): string => {
  const lines = [
    `model_provider = "${PROVIDER}"`,
    ...(model ? [`model = ${toml(model)}`] : []),
    'approval_policy = "never"',
    'sandbox_mode = "danger-full-access"',
    '',
    `[model_providers.${PROVIDER}]`,
    `name = ${toml(baseUrl ? 'OpenAI-compatible' : 'OpenAI')}`,
    `base_url = ${toml(baseUrl || DEFAULT_BASE_URL)}`,
    // With env_key set and the variable unset, every turn fails: a keyless gateway gets none.
    ...(withKey ? ['env_key = "OPENAI_API_KEY"'] : []),
    // Codex refuses the chat completions wire API.
    'wire_api = "responses"',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[features]',
    'plugins = false',
    'remote_plugin = false',
    'apps = false',
    '',
  ]
  return lines.join('\n')
}

/**
 * Runs codex with stdin from /dev/null (it reads stdin whenever stdin is not a terminal). For a
 * resumed session it first prints the session's last `token_count` record: Codex reports the
 * thread's running total, and parse() subtracts this to get the usage of this prompt alone.
 * $1 is a session UUID or empty; the rest is codex's argv.
 */
export const RUN_SCRIPT = [
  'if [ -n "$1" ]; then',
  '  for f in "${CODEX_HOME:-$HOME/.codex}"/sessions/*/*/*/rollout-*-"$1".jsonl; do',
  `    [ -f "$f" ] && grep -h '"type":"token_count"' "$f" | tail -n 1`,
  '    break',
  '  done',
  'fi',
  'shift',
  'exec "$@" </dev/null',
].join('\n')

type Json = Record<string, unknown>
interface TokenTotals {
  input_tokens?: number
  cached_input_tokens?: number
  output_tokens?: number
  reasoning_output_tokens?: number
}

const events = (stdout: string): Json[] =>
  stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      const v: unknown = JSON.parse(line)
      return v && typeof v === 'object' ? [v as Json] : []
    } catch {
      return []
    }
  })

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const num = (v: unknown): number => (typeof v === 'number' ? v : 0)
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {})

/** The running total recorded before this prompt (see RUN_SCRIPT), if any. */
const priorTotals = (all: Json[]): TokenTotals => {
  const rec = all.find((e) => e.type === 'event_msg' && obj(e.payload).type === 'token_count')
  return obj(obj(obj(rec?.payload).info).total_token_usage) as TokenTotals
}

const usageOf = (totals: TokenTotals, prior: TokenTotals): Reply['usage'] => {
  const delta = (k: keyof TokenTotals) => Math.max(0, num(totals[k]) - num(prior[k]))
  return {
    inputTokens: delta('input_tokens'),
    outputTokens: delta('output_tokens'),
    cachedInputTokens: delta('cached_input_tokens'),
    reasoningOutputTokens: delta('reasoning_output_tokens'),
  }
}

const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).at(-1)

/**
 * Reads `codex exec --json` output: the last `agent_message` is the reply, `thread.started`
 * names the session, `turn.completed` carries usage. A failed turn, a timeout, or a non-zero
 * exit without an answer throws an Error carrying Codex's own message.
 */
export const parseCodex = (result: ExecOutcome): Reply => {
  const all = events(result.stdout)
  const sessionId = str(all.find((e) => e.type === 'thread.started')?.thread_id)
  const messages = all
    .map((e) => obj(e.item))
    .filter((item) => item.type === 'agent_message' && typeof item.text === 'string')
  const completed = all.findLast((e) => e.type === 'turn.completed')
  const failed = all.findLast((e) => e.type === 'turn.failed')
  const lastError = str(all.findLast((e) => e.type === 'error')?.message)

  if (failed)
    throw new Error(`codex turn failed: ${str(obj(failed.error).message) ?? 'no message'}`)
  if (result.timedOut) {
    throw new Error(
      `codex timed out after ${result.durationMs} ms${lastError ? `: ${lastError}` : ''}`,
    )
  }
  if (!completed && (result.exitCode !== 0 || messages.length === 0)) {
    const why = lastError ?? lastLine(result.stderr) ?? 'no output'
    throw new Error(`codex exited ${result.exitCode} without an answer: ${why}`)
  }
  const reply: Reply = { text: str(messages.at(-1)?.text) ?? '', raw: all }
  if (sessionId) reply.sessionId = sessionId
  if (completed) reply.usage = usageOf(obj(completed.usage) as TokenTotals, priorTotals(all))
  return reply
}

const setting = (ctx: PluginContext, name: string): string | undefined =>
  ctx.configEnv[name] || ctx.hostEnv[name] || undefined

/** OpenAI Codex CLI, headless (`codex exec --json`), against any Responses API endpoint. */
export default defineAgent({
  apiVersion: 'v1',
  name: 'codex',
  version: CODEX_VERSION,
  description: 'OpenAI Codex CLI, headless (codex exec --json), any Responses API endpoint',
  install: [{ npm: [`@openai/codex@${CODEX_VERSION}`] }, { run: 'codex --version' }],
  secrets: [
    {
      name: 'OPENAI_API_KEY',
      required: false,
      description: 'API key sent to the Responses API (a gateway may not need one)',
    },
  ],
  files: (ctx) => ({
    '~/.codex/config.toml': codexConfig({
      baseUrl: setting(ctx, 'OPENAI_BASE_URL'),
      model: setting(ctx, 'CODEX_MODEL'),
      withKey: Boolean(setting(ctx, 'OPENAI_API_KEY')),
    }),
  }),
  prompt: (req) => {
    const flags = ['--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox']
    if (req.env.CODEX_MODEL) flags.push('--model', req.env.CODEX_MODEL)
    const codex = req.sessionId
      ? ['codex', 'exec', 'resume', ...flags, '--', req.sessionId, req.prompt]
      : ['codex', 'exec', ...flags, '--', req.prompt]
    const lookup = req.sessionId && UUID.test(req.sessionId) ? req.sessionId : ''
    return { argv: ['/bin/bash', '-c', RUN_SCRIPT, 'codex', lookup, ...codex] }
  },
  parse: parseCodex,
})
