import { defineAgent, type ExecOutcome, type Reply } from 'workers-spawner/plugin'

/** The Claude Code release baked into the image. */
export const CLAUDE_CODE_VERSION = '2.1.332'

/**
 * Non-secret settings a spawner operator may set once for every worker (e.g. behind a model
 * gateway). The WorkerConfig's `env` still wins over these.
 */
const PASSED_THROUGH = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_MODEL'] as const

/**
 * Runs `claude` with its arguments, dropping `ANTHROPIC_API_KEY` when an OAuth session is
 * present (a readable `~/.claude/.credentials.json`, e.g. copied from `HOST_CLAUDE_DIR`, or
 * `CLAUDE_CODE_OAUTH_TOKEN`): Claude Code itself prefers the key, and the spawner injects the
 * key whenever it is set, so this is where the OAuth session gets its precedence.
 */
const LAUNCHER =
  'c="$HOME/.claude/.credentials.json"; ' +
  'if { [ -s "$c" ] && [ -r "$c" ]; } || [ -n "${CLAUDE_CODE_OAUTH_TOKEN:-}" ]; ' +
  'then unset ANTHROPIC_API_KEY; fi; ' +
  'exec claude "$@"'

/** Prompts larger than this go through stdin: Linux refuses one argv string over 128 KiB. */
const MAX_ARGV_PROMPT_BYTES = 100_000

/** The fields of Claude Code's `type: 'result'` message that the reply is made from. */
interface ResultMessage {
  type: 'result'
  subtype?: string
  is_error?: boolean
  result?: unknown
  errors?: unknown
  api_error?: unknown
  session_id?: string
  total_cost_usd?: number
  usage?: {
    input_tokens?: number
    output_tokens?: number
    cache_creation_input_tokens?: number
    cache_read_input_tokens?: number
  }
  model_usage_since_last_result?: Record<string, { costUSD?: number }>
}

const isResult = (v: unknown): v is ResultMessage =>
  typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'result'

/** The last `type: 'result'` object in stdout (one JSON object, or stream-json lines). */
const findResult = (stdout: string): ResultMessage | undefined => {
  const lines = stdout.split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (!line.startsWith('{')) continue
    try {
      const value: unknown = JSON.parse(line)
      if (isResult(value)) return value
    } catch {
      // not a JSON line (or cut off by the output cap): keep looking
    }
  }
  return undefined
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/**
 * This run's cost. On `--resume`, `total_cost_usd` carries the session's earlier turns too, so
 * the per-run breakdown stream-json adds is preferred; summing per-worker usage needs it.
 */
const runCost = (r: ResultMessage): number | undefined => {
  const perModel = r.model_usage_since_last_result
  if (perModel && typeof perModel === 'object') {
    return Object.values(perModel).reduce((sum, m) => sum + num(m?.costUSD), 0)
  }
  return typeof r.total_cost_usd === 'number' ? r.total_cost_usd : undefined
}

const tail = (s: string, n = 500) => (s.length > n ? `…${s.slice(-n)}` : s).trim()

/** Why a run that produced no usable result failed, in one line. */
const failure = (r: ResultMessage | undefined, out: ExecOutcome): string => {
  if (r) {
    const errors = Array.isArray(r.errors) ? r.errors.map(String).join('; ') : ''
    const detail = (typeof r.result === 'string' && r.result) || errors || 'no message'
    const kind = [r.subtype, typeof r.api_error === 'string' ? r.api_error : undefined]
      .filter(Boolean)
      .join(', ')
    return `claude reported an error${kind ? ` (${kind})` : ''}: ${detail}`
  }
  if (out.timedOut) return `claude timed out after ${out.durationMs} ms without a result`
  const said = tail(out.stderr) || tail(out.stdout) || 'no output'
  return `claude exited ${out.exitCode} without a result: ${said}`
}

/**
 * Turns Claude Code's output into a reply. A run that failed (`is_error: true`, or no result at
 * all) throws an Error that says why, so an error never reads as the model's answer.
 */
export const parseClaudeOutput = (out: ExecOutcome): Reply => {
  const r = findResult(out.stdout)
  if (!r || r.is_error === true) throw new Error(failure(r, out))
  const u = r.usage ?? {}
  const costUsd = runCost(r)
  return {
    text: typeof r.result === 'string' ? r.result : '',
    ...(r.session_id ? { sessionId: r.session_id } : {}),
    usage: {
      // Anthropic counts cached prompt tokens apart; inputTokens is every prompt token read.
      inputTokens:
        num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
      outputTokens: num(u.output_tokens),
      cacheReadInputTokens: num(u.cache_read_input_tokens),
      cacheCreationInputTokens: num(u.cache_creation_input_tokens),
      ...(costUsd === undefined ? {} : { costUsd }),
    },
    raw: r,
  }
}

/**
 * Claude Code (`@anthropic-ai/claude-code`) run headless: `claude -p` with stream-json output,
 * permissions skipped (the container is the sandbox), sessions continued with `--resume`.
 * @example
 * { "agent": "claude-code", "env": { "ANTHROPIC_BASE_URL": "http://gateway:4000" } }
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'claude-code',
  version: '1.0.0',
  description: `Claude Code ${CLAUDE_CODE_VERSION} (claude -p, stream-json; sessions via --resume)`,
  install: [
    { npm: [`@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`] },
    { run: 'claude --version' },
  ],
  secrets: [
    {
      name: 'ANTHROPIC_API_KEY',
      description: 'Anthropic API key (an OAuth session, when present, is used instead)',
    },
    {
      name: 'ANTHROPIC_AUTH_TOKEN',
      description: 'bearer token for a model gateway; wins over every other login',
    },
    {
      name: 'CLAUDE_CODE_OAUTH_TOKEN',
      description: 'long-lived OAuth token from `claude setup-token`',
    },
  ],
  env: (ctx) => {
    const env: Record<string, string> = {
      // No telemetry, update checks or session-title requests: only the model is called.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      // A dead endpoint fails in seconds instead of retrying for minutes; set your own to retry.
      CLAUDE_CODE_MAX_RETRIES: ctx.hostEnv.CLAUDE_CODE_MAX_RETRIES || '0',
    }
    for (const name of PASSED_THROUGH) {
      const value = ctx.hostEnv[name]
      if (value) env[name] = value
    }
    return env
  },
  // The host's OAuth login, copied into each worker's own ~/.claude: the host directory itself
  // (transcripts, settings.json hooks the host runs) is never shared with a worker.
  hostFiles: [{ fromEnv: 'HOST_CLAUDE_DIR', file: '.credentials.json', target: '~/.claude/.credentials.json' }],
  prompt: (req) => {
    const viaStdin = new TextEncoder().encode(req.prompt).length > MAX_ARGV_PROMPT_BYTES
    // stream-json even when nobody streams: only its result line has this run's own cost.
    const argv = [
      '/bin/sh',
      '-c',
      LAUNCHER,
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
    ]
    // Token-level text deltas only when someone is watching the stream.
    if (req.stream) argv.push('--include-partial-messages')
    argv.push('--dangerously-skip-permissions')
    // One argument, so a session id can never be taken for another option.
    if (req.sessionId) argv.push(`--resume=${req.sessionId}`)
    if (viaStdin) return { argv, stdin: req.prompt }
    // `--` so a prompt that starts with a dash is not read as an option.
    argv.push('--', req.prompt)
    return { argv }
  },
  parse: parseClaudeOutput,
})
