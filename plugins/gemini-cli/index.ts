import { defineAgent, jsonLines, noResult, num, obj, str } from 'workers-spawner/plugin'
import { geminiCommand, permissions } from './permissions.ts'
import { BLOCKING_STDIO, PRELOAD } from './stdio.ts'
import type { PluginContext } from 'workers-spawner/plugin'
import { reported } from './reported.ts'
import { updates } from './updates.ts'

/** The Gemini CLI release baked into the image. */
export const GEMINI_CLI_VERSION = '0.61.0'

/** Used when neither the worker's env nor the spawner's sets `GEMINI_MODEL`. */
export const DEFAULT_MODEL = 'gemini-2.5-pro'

/** The Gemini API, where calls go when the spawner names no other `GOOGLE_GEMINI_BASE_URL`. */
const GOOGLE = 'https://generativelanguage.googleapis.com'

/**
 * `~/.gemini/settings.json`. The CLI refuses a base URL and key without an auth type
 * ("Invalid auth method"); the rest keeps it from calling anything but the model.
 */
export const geminiSettings = ({ setting }: PluginContext) => {
  // The CLI retries a failing model call up to 10 times with backoff (minutes): a dead endpoint
  // fails in seconds instead, with one attempt unless GEMINI_MAX_ATTEMPTS says more.
  const n = Number(setting('GEMINI_MAX_ATTEMPTS'))
  const maxAttempts = Number.isInteger(n) && n >= 1 ? Math.min(n, 10) : 1
  return {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false, maxAttempts },
    // A named model: the CLI's `auto` default first asks a router model which one to use.
    model: { name: setting('GEMINI_MODEL') ?? DEFAULT_MODEL },
  }
}

/**
 * Gemini CLI (`@google/gemini-cli`) run headless: `gemini --prompt` with stream-json output (its
 * `json` is one pretty-printed object, no line of which the updates could read), every tool call
 * approved (the container is the sandbox), sessions continued with `--resume`.
 * @example
 * { "agent": "gemini-cli",
 *   "env": { "GOOGLE_GEMINI_BASE_URL": "http://gateway:4000", "GEMINI_MODEL": "gemini-2.5-flash" } }
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'gemini-cli',
  version: '1.0.0',
  description: `Gemini CLI ${GEMINI_CLI_VERSION} (gemini --prompt, stream-json, --resume)`,
  // The CLI's search tool uses ripgrep when it is on PATH and a slower fallback otherwise.
  install: [{ apt: ['ripgrep'] }],
  cli: { npm: `@google/gemini-cli@${GEMINI_CLI_VERSION}`, bin: 'gemini' },
  gateway: { keys: ['GEMINI_API_KEY'], baseUrl: 'GOOGLE_GEMINI_BASE_URL', upstream: GOOGLE },
  env: () => ({
    // Headless runs stop at the folder-trust question without this.
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
    // The CLI otherwise starts a second Node process to raise its heap to half the host's
    // memory (not the container's): ~0.6 s more per prompt, for nothing a worker needs.
    GEMINI_CLI_NO_RELAUNCH: 'true',
  }),
  files: (ctx) => ({ '~/.gemini/settings.json': geminiSettings(ctx), [PRELOAD]: BLOCKING_STDIO }),
  promptVia: 'auto',
  // `--opt=value` keeps a prompt or session id that starts with a dash from reading as an option;
  // an empty `--prompt=` takes the prompt from stdin (the CLI appends stdin to it).
  prompt: ({ prompt, via, sessionId, permissions: asked }) =>
    geminiCommand(via === 'argv' ? prompt : '', sessionId, asked),
  permissions,
  // Start-up notices the CLI prints on stderr, left out of a failure message.
  noise: /^(Warning: 256-color|YOLO mode is enabled|Ripgrep is not available|\[STARTUP\])/,
  // A run that failed (a result whose status is not `success`) throws why. The reply is the
  // last model turn's text (after the last tool call, as the CLI's `json` output gives it).
  parse: (out) => {
    const events = jsonLines(out.stdout).filter((e) => typeof e.type === 'string')
    const r = events.findLast((e) => e.type === 'result')
    if (!r) return noResult()
    if (r.status !== 'success') throw reported(obj(r.error), events)
    const turn = events.slice(events.findLastIndex((e) => String(e.type).startsWith('tool_')) + 1)
    const said = turn.filter((e) => e.role === 'assistant').map((e) => str(e.content) ?? '')
    const sessionId = str(events.find((e) => e.type === 'init')?.session_id)
    // Prompt tokens count cached ones too.
    const s = obj(r.stats)
    const [inputTokens, outputTokens] = [num(s.input_tokens), num(s.output_tokens)]
    const usage = { inputTokens, outputTokens, cachedInputTokens: num(s.cached) }
    return { text: said.join(''), sessionId, usage, raw: r }
  },
  // Chats per project (named after the workdir) and the project registry.
  sessions: { paths: ['~/.gemini/tmp', '~/.gemini/history', '~/.gemini/projects.json'] },
  updates,
})
