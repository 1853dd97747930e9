import { defineAgent, jsonLines, noResult, obj, str } from 'workers-spawner/plugin'
import { BASE_URL, CONFIG_PATH, opencodeConfig } from './config.ts'
import { permissions } from './permissions.ts'
import { RETRY_CAP_FILES } from './retry-cap.ts'
import { addStep, errorText, noSteps, updates, usageOf } from './updates.ts'

export { CONFIG_PATH, PROVIDER_ID, opencodeConfig } from './config.ts'

/** The opencode release baked into the image. */
export const OPENCODE_VERSION = '1.18.33'

// `--thinking` prints the model's reasoning parts as `reasoning` events (for `updates`).
const RUN = ['opencode', 'run', '--format', 'json', '--auto', '--thinking']

/**
 * `OPENCODE_DISABLE_*` switches the plugin sets to 1: no model-list refresh (the list is built
 * in; refreshing it is the only request besides the model's), update checks, sharing or LSP
 * downloads.
 */
const QUIET = ['MODELS_FETCH', 'AUTOUPDATE', 'SHARE', 'LSP_DOWNLOAD']

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
  permissions,
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
    const why = errs.map(errorText)
    if (why.length) throw new Error(`opencode reported an error (${why.join('; ')})`)
    const steps = all.filter((e) => e.type === 'step_finish').map((e) => obj(e.part))
    if (out.timedOut || out.exitCode !== 0 || !steps.length) return noResult()
    const parts = all.map((e) => obj(e.part)).filter((p) => p.type === 'text' && str(p.text))
    const message = parts.at(-1)?.messageID
    const text = parts.flatMap((p) => (p.messageID === message ? [p.text] : [])).join('\n\n')
    const usage = usageOf(steps.reduce(addStep, noSteps()))
    const sessionId = str(all.find((e) => e.sessionID)?.sessionID)
    return { text, sessionId, usage, raw: all }
  },
  // One SQLite database (with its WAL) holds every session.
  sessions: { paths: ['~/.local/share/opencode/opencode.db*', '~/.local/share/opencode/storage'] },
  updates,
})
