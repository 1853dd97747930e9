import type { PermissionsContext } from 'workers-spawner/plugin'
import { opencodeConfig } from './config.ts'
import { retryCapFiles } from './retry-cap.ts'

/**
 * The config home of a worker that asks (`XDG_CONFIG_HOME`): root-owned, so neither the config
 * nor the plugins opencode loads from it can be changed by the agent.
 */
export const ASK_CONFIG_HOME = '/etc/opencode-ask'

const DIR = `${ASK_CONFIG_HOME}/opencode`

/**
 * An opencode plugin, as source: before every tool call it hands the call to `command`
 * (`orchestrator permit`) and waits; on a deny it throws the reason, which opencode gives the model as the
 * tool's error. `--auto` approves opencode's own permission checks; this runs whatever they say.
 * Its modules are named without `node:` and imported where used: the service's serverless bundle
 * holds this text, and is checked to name no Node module.
 */
const permit = (command: string) => `const COMMAND = ${JSON.stringify(command)}
export const Permit = async () => ({
  'tool.execute.before': async (input, output) => {
    const { spawn } = await import('child_process')
    const call = { tool_name: input.tool, tool_input: output.args, tool_use_id: input.callID }
    const child = spawn('/bin/sh', ['-c', COMMAND], { stdio: ['pipe', 'ignore', 'pipe'] })
    let said = ''
    child.stderr.on('data', (d) => (said += d))
    child.stdin.end(JSON.stringify(call))
    const code = await new Promise((done) => {
      child.on('error', () => done(-1))
      child.on('close', done)
    })
    if (code !== 0) throw new Error(said.trim() || 'permission denied')
  },
})
`

/**
 * Every tool call asks first, through the permit plugin above. opencode runs every plugin in its
 * config folders inside its own process, where one could undo another: the worker's global
 * config (with the retry cap) moves to a root-owned config home, and the project's config
 * (`opencode.json`, `.opencode/` in the workdir) is not read.
 */
export const permissions = (ctx: PermissionsContext) => ({
  files: {
    [`${DIR}/opencode.json`]: opencodeConfig(ctx),
    [`${DIR}/plugins/permit.js`]: permit(ctx.permitCommand('exit-code')),
    ...retryCapFiles(DIR),
  },
  env: {
    XDG_CONFIG_HOME: ASK_CONFIG_HOME,
    OPENCODE_DISABLE_PROJECT_CONFIG: '1',
  },
})
