import { defineAgent, jsonLines, noResult, str } from 'workers-spawner/plugin'
import { customModel } from './custom-model.ts'
import { permissions } from './permissions.ts'
import { updates } from './updates.ts'

export { customModel, PROVIDERS } from './custom-model.ts'

/** A message with where droid's own log is. */
const hint = (s: string) => `${s} (details in ~/.factory/logs/droid-log-single.log in the worker)`

/** `droid exec` with no approvals (the worker is the sandbox), before the output format. */
const EXEC = ['droid', 'exec', '--skip-permissions-unsafe', '--output-format']

/** One line of droid's JSON output. */
type Event = { [key: string]: unknown; usage?: Record<string, number | undefined> }

/** droid's token counts, under the reply's names. */
const usageOf = (u: Event['usage'] & object) => ({
  inputTokens: u.input_tokens,
  outputTokens: u.output_tokens,
  cacheReadTokens: u.cache_read_input_tokens,
  cacheCreationTokens: u.cache_creation_input_tokens,
  factoryCredits: u.factory_credits,
})

/**
 * Factory's Droid CLI, headless (`droid exec`). Bring-your-own model through `FACTORY_MODEL_*`
 * (written to `~/.factory/config.json`, airgapped), or Factory's hosted models with
 * `FACTORY_API_KEY`.
 */
export default defineAgent({
  apiVersion: 'v1',
  name: 'factory-droid',
  version: '1.0.0',
  description: 'Factory Droid CLI 0.225.1, headless (droid exec); Factory API key or own model',
  // The launcher finds the native x64 (AVX2) binary in the platform package, installed
  // explicitly: the launcher's optional dependency asks for its own version, which is missing.
  cli: { npm: ['@factory/cli-linux-x64@0.225.2', '@factory/cli@0.225.1'], bin: 'droid' },
  secrets: [{ name: 'FACTORY_API_KEY', description: "Factory API key, for Factory's models" }],
  gateway: { keys: ['FACTORY_MODEL_API_KEY'], baseUrl: 'FACTORY_MODEL_BASE_URL' },
  env: (ctx) => ({
    // The binary lives in a root-owned prefix; an update attempt could only fail.
    FACTORY_DROID_AUTO_UPDATE_ENABLED: 'false',
    // With a custom model droid needs none of Factory's hosts; without airgap it spends ~6 s
    // looking them up before every prompt.
    FACTORY_AIRGAP_ENABLED: customModel(ctx) && '1',
  }),
  files: (ctx) => {
    const custom = customModel(ctx)
    // The default model of new sessions, so `droid exec` needs no `-m`.
    const model = custom?.id ?? ctx.setting('FACTORY_MODEL')
    return {
      '~/.factory/config.json': custom && { custom_models: [custom.entry] },
      '~/.factory/settings.json': model && { sessionDefaultSettings: { model } },
    }
  },
  permissions,
  // On stdin, which `droid exec` reads when given no prompt: verbatim, and of any size (one
  // argument over 128 KiB is refused by Linux).
  promptVia: 'stdin',
  // `--session-id` first fetches the session from Factory's servers, which airgap forbids;
  // `--fork` continues from the local transcript under a new session id.
  prompt: ({ sessionId: id, stream }) => ({
    argv: [...EXEC, stream ? 'stream-json' : 'json', ...(id ? ['--fork', id] : [])],
  }),
  // `-o json` prints one line, `-o stream-json` one per event. A failed run throws droid's own
  // message, so the caller gets an error rather than a reply to misread.
  parse: (out) => {
    const all = jsonLines<Event>(out.stdout)
    const last: Event = all.findLast((e) => e.type === 'result' || e.type === 'completion') ?? {}
    const [text, sessionId] = [str(last.result) ?? str(last.finalText), str(last.session_id)]
    const [usage, raw] = [last.usage && usageOf(last.usage), all.length === 1 ? all[0] : all]
    if (text !== undefined && !last.is_error) return { text: text.trim(), sessionId, usage, raw }
    if (out.timedOut) return noResult()
    const said = all.map((e) => str(e.type === 'error' ? e.message : e.is_error && e.result))
    const why = [...new Set(said.filter(Boolean))].join('; ')
    if (why) throw new Error(hint(`droid exec failed (exit ${out.exitCode}): ${why}`))
    return noResult(out.stderr.trim() ? undefined : hint('no output, as with an unknown sessionId'))
  },
  // Each stream-json event as the common agent updates (see updates.ts).
  // One JSONL file (and settings) per session under a folder named after the workdir.
  sessions: { paths: ['~/.factory/sessions'] },
  updates,
})
