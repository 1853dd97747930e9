import { defineAgent, lastJson, noResult, str } from 'workers-spawner/plugin'
import { permissions } from './permissions.ts'
import { errorMessage, resultUsage, type Result } from './result.ts'
import { updates } from './updates.ts'

/** The Claude Code release baked into the image. */
export const CLAUDE_CODE_VERSION = '2.1.332'

/**
 * Runs `claude` with its arguments, dropping `ANTHROPIC_API_KEY` when an OAuth session is
 * present (a readable `~/.claude/.credentials.json`, e.g. copied from `HOST_CLAUDE_DIR`, or
 * `CLAUDE_CODE_OAUTH_TOKEN`): Claude Code itself prefers the key, and the spawner injects the
 * key whenever it is set, so this is where the OAuth session gets its precedence.
 */
const LAUNCHER =
  'c="$HOME/.claude/.credentials.json"; if { [ -s "$c" ] && [ -r "$c" ]; } || ' +
  '[ -n "${CLAUDE_CODE_OAUTH_TOKEN:-}" ]; then unset ANTHROPIC_API_KEY; fi; exec claude "$@"'

/** The OAuth login Claude Code keeps in `~/.claude`. */
const LOGIN = '.credentials.json'

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
  cli: { npm: `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`, bin: 'claude' },
  // The model gateway holds the key (a gateway token, an OAuth token, an API key: the first one
  // the spawner sets); the worker gets a credential of its own in its place.
  gateway: {
    keys: ['ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_API_KEY'],
    baseUrl: 'ANTHROPIC_BASE_URL',
    upstream: 'https://api.anthropic.com',
  },
  // The host's OAuth login, copied into each worker's own ~/.claude: the host directory itself
  // (transcripts, settings.json hooks the host runs) is never shared with a worker.
  hostFiles: [{ fromEnv: 'HOST_CLAUDE_DIR', file: LOGIN, target: `~/.claude/${LOGIN}` }],
  env: (ctx) => ({
    // No telemetry, update checks or session-title requests: only the model is called.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // A dead endpoint fails in seconds instead of retrying for minutes; set your own to retry.
    CLAUDE_CODE_MAX_RETRIES: ctx.setting('CLAUDE_CODE_MAX_RETRIES') ?? '0',
    // An operator's model, set once for every worker.
    ANTHROPIC_MODEL: ctx.setting('ANTHROPIC_MODEL'),
  }),
  // Every tool call goes through `orchestrator permit` first (see permissions.ts).
  permissions,
  promptVia: 'auto',
  prompt: (req) => ({
    // stream-json even when nobody streams: only its result line has this run's own cost.
    argv: ['/bin/sh', '-c', LAUNCHER, 'claude', '-p', '--output-format', 'stream-json']
      .concat('--verbose', req.stream ? ['--include-partial-messages'] : [])
      .concat('--dangerously-skip-permissions')
      // One argument, so a session id can never be taken for another option.
      .concat(req.sessionId ? [`--resume=${req.sessionId}`] : [])
      // `--` so a prompt that starts with a dash is not read as an option.
      .concat(req.via === 'argv' ? ['--', req.prompt] : []),
  }),
  parse: (out) => {
    const r = lastJson<Result>(out.stdout, (v) => v.type === 'result')
    if (!r) return noResult()
    if (r.is_error === true) throw new Error(errorMessage(r))
    return {
      text: str(r.result) ?? '',
      sessionId: str(r.session_id),
      usage: resultUsage(r),
      raw: r,
    }
  },
  updates,
})
