import { defineAgent, jsonLines, noResult, obj, str } from 'workers-spawner/plugin'
import { codexConfig, OPENAI } from './config.ts'
import { permissions } from './permissions.ts'
import { updates } from './updates.ts'
import { isPriorTotal, usageOf } from './usage.ts'

/** The pinned `@openai/codex` release. */
export const CODEX_VERSION = '0.171.0'

export { codexConfig }

const FLAGS = ['--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox']

/**
 * Runs codex with stdin from $0: /dev/null (it reads stdin whenever stdin is not a terminal), or
 * /dev/stdin when the prompt comes that way. For a resumed session it first prints the session's
 * last `token_count` record: Codex reports the thread's running total, and parse() subtracts this
 * to get the usage of this prompt alone. $1 is a session UUID or empty; the rest is codex's argv.
 */
export const RUN_SCRIPT = `if [ -n "$1" ]; then
  for f in "\${CODEX_HOME:-$HOME/.codex}"/sessions/*/*/*/rollout-*-"$1".jsonl; do [ -f "$f" ] &&
  grep -h '"type":"token_count"' "$f" | tail -n 1; break; done; fi; shift; exec "$@" <"$0"`

/** OpenAI Codex CLI, headless (`codex exec --json`), against any Responses API endpoint. */
export default defineAgent({
  apiVersion: 'v1',
  name: 'codex',
  version: CODEX_VERSION,
  description: 'OpenAI Codex CLI, headless (codex exec --json), any Responses API endpoint',
  cli: { npm: `@openai/codex@${CODEX_VERSION}`, bin: 'codex' },
  gateway: { keys: ['OPENAI_API_KEY'], baseUrl: 'OPENAI_BASE_URL', upstream: OPENAI },
  files: (ctx) => ({ '~/.codex/config.toml': codexConfig(ctx) }),
  permissions,
  // A prompt over Linux's argv limit goes through stdin (`-`).
  promptVia: 'auto',
  prompt: ({ prompt, sessionId: id, env, via }) => {
    const flags = [...FLAGS, ...(env.CODEX_MODEL ? ['--model', env.CODEX_MODEL] : [])]
    const exec = id ? ['exec', 'resume', ...flags, '--', id] : ['exec', ...flags, '--']
    // RUN_SCRIPT's $1: the session whose total so far is looked up, when it looks like a UUID.
    const lookup = id && /^[0-9a-f-]{36}$/i.test(id) ? id : ''
    const [input, text] = via === 'stdin' ? ['/dev/stdin', '-'] : ['/dev/null', prompt]
    return { argv: ['/bin/bash', '-c', RUN_SCRIPT, input, lookup, 'codex', ...exec, text] }
  },
  // The last `agent_message` is the reply, `thread.started` names the session, `turn.completed`
  // carries usage; a failed turn throws Codex's own message.
  parse: (out) => {
    const all = jsonLines(out.stdout)
    const last = (type: string) => all.findLast((e) => e.type === type)
    const failed = last('turn.failed')
    if (failed) throw new Error(`codex turn failed: ${obj(failed.error).message ?? 'no message'}`)
    const text = str(all.map((e) => obj(e.item)).findLast((i) => i.type === 'agent_message')?.text)
    const [done, error] = [last('turn.completed'), str(last('error')?.message)]
    if (out.timedOut || (!done && (out.exitCode || text === undefined))) return noResult(error)
    // RUN_SCRIPT's line: the thread's total before this prompt.
    const before = all.find(isPriorTotal)
    const sessionId = str(all.find((e) => e.type === 'thread.started')?.thread_id)
    return { text: text ?? '', sessionId, ...(done && { usage: usageOf(done, before) }), raw: all }
  },
  // Rollout files per session, and the databases that index threads.
  sessions: {
    paths: ['~/.codex/sessions', '~/.codex/state_*.sqlite*', '~/.codex/thread_history_*.sqlite*'],
  },
  updates,
})
