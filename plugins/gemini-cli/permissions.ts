import type { PermissionsContext } from 'workers-spawner/plugin'
import { BLOCKING_STDIO, PRELOAD } from './stdio.ts'

/** Gemini CLI's system settings: merged over the user's and the workspace's. */
export const SYSTEM_SETTINGS = '/etc/gemini-cli/settings.json'

/** The check run before the CLI when the worker asks (root-owned, beside the settings). */
export const GUARD = '/etc/gemini-cli/hooks-guard.cjs'

/**
 * The stdio preload, root-owned, for a worker that asks: code loaded into the CLI must be out of
 * the agent's reach, or it could patch the hook runner out.
 */
export const ROOT_PRELOAD = '/etc/gemini-cli/blocking-stdio.cjs'

/**
 * Refuses to start the CLI when a settings file the worker can write names `hooksConfig`: the
 * system settings turn hooks on, but their `disabled` list is the union of every file's, so the
 * user's or the workspace's could switch the permission hook off by its name. A file that is
 * not plain JSON (the plugin writes plain JSON) is refused too, rather than parsed differently.
 * Modules without `node:`: the serverless bundle holds this text, and is checked to name none.
 */
const GUARD_SOURCE = `const { readFileSync } = require('fs')
const { join } = require('path')
const home = process.env.GEMINI_CLI_HOME || require('os').homedir()
const refuse = (why) => {
  process.stderr.write('gemini-cli: permissions are asked, but ' + why + ': the prompt is not run\\n')
  process.exit(3)
}
for (const f of [join(home, '.gemini', 'settings.json'), join(process.cwd(), '.gemini', 'settings.json')]) {
  let text
  try { text = readFileSync(f, 'utf8') } catch { continue }
  let s
  try { s = JSON.parse(text) } catch { refuse(f + ' is not plain JSON') }
  if (s && typeof s === 'object' && 'hooksConfig' in s)
    refuse(f + ' sets hooksConfig, which could turn the permission hook off')
}
`

/**
 * Every tool call asks first: a `BeforeTool` hook in the system settings (root-owned, so the
 * agent cannot change it; it fires in yolo mode too) runs `orchestrator permit`, which exits 0
 * to allow and 2 with the reason on stderr to deny (the CLI tells the model "Tool execution
 * blocked: <reason>"). The CLI gives up on a hook after its `timeout` (ms): the request's own
 * deadline, and `orchestrator permit`'s wait for a restarting service, come first.
 */
export const permissions = (ctx: PermissionsContext) => ({
  files: {
    [SYSTEM_SETTINGS]: {
      hooksConfig: { enabled: true },
      hooks: {
        BeforeTool: [
          {
            matcher: '.*',
            hooks: [
              {
                type: 'command',
                name: 'orchestrator-permit',
                command: `${ctx.permitCommand('exit-code')} || exit 2`,
                timeout: ctx.timeoutMs + 660_000,
              },
            ],
          },
        ],
      },
    },
    [GUARD]: GUARD_SOURCE,
    [ROOT_PRELOAD]: BLOCKING_STDIO,
  },
})

/**
 * The CLI's command line: the prompt (empty: it comes on stdin), stream-json, yolo (with
 * permissions asked, the system settings' hook decides), the session to resume. When the worker
 * asks, it runs after the guard and with the root-owned preload.
 */
export const geminiCommand = (prompt: string, sessionId?: string, permissions?: 'skip' | 'ask') => {
  const ask = permissions === 'ask'
  const guard = ask ? ['/bin/sh', '-c', `node ${GUARD} && exec "$@"`, 'gemini'] : []
  return {
    argv: [...guard, 'gemini', `--prompt=${prompt}`, '--output-format=stream-json'].concat(
      '--approval-mode=yolo',
      sessionId ? [`--resume=${sessionId}`] : [],
    ),
    env: { NODE_OPTIONS: `--require=${ask ? ROOT_PRELOAD : PRELOAD}` },
  }
}
