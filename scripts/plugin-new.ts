/**
 * Scaffolds an agent plugin on the plugin kit: `plugins/<name>/` with `index.ts`, a README that
 * names its settings, and a unit test that calls its hooks as the core does.
 *
 *   npm run plugin:new -- <name> [--dir <plugins folder>]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { agentPluginSchema } from '../src/core/plugin/contract.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** `my-cli` → `MY_CLI`, the prefix of the plugin's settings. */
const envPrefix = (name: string) => name.toUpperCase().replace(/-/g, '_')

const indexTs = (
  name: string,
  env: string,
) => `import { defineAgent, lastJson, noResult, num, str } from 'workers-spawner/plugin'

/**
 * ${name}: an agent CLI run headless, one JSON result line per run. Replace the package, the
 * command line and the fields read from its output with your CLI's.
 * @example
 * { "agent": "${name}", "env": { "${env}_MODEL": "my-model" } }
 */
export default defineAgent({
  apiVersion: 'v1',
  name: '${name}',
  version: '0.1.0',
  description: '${name} agent CLI, headless',
  // The npm package and the command it puts on PATH; the image build runs \`${name} --version\`.
  cli: { npm: '${name}@0.1.0', bin: '${name}' },
  // The model API, through the service's gateway: the worker gets a credential of its own in
  // ${env}_API_KEY and the gateway's URL in ${env}_BASE_URL; the real key stays in the service.
  gateway: { keys: ['${env}_API_KEY'], baseUrl: '${env}_BASE_URL' },
  // Settings: the worker's env first, then the spawner's. An undefined value is left out.
  env: (ctx) => ({ ${env}_LOG_LEVEL: ctx.setting('${env}_LOG_LEVEL') }),
  // An object is written as JSON; the core expands \`~\` to the worker's home.
  files: (ctx) => ({
    '~/.${name}/config.json': { model: ctx.setting('${env}_MODEL') ?? 'default' },
  }),
  // Prompts too large for one argument go through stdin.
  promptVia: 'auto',
  prompt: (req) => ({
    argv: ['${name}', '--json']
      .concat(req.sessionId ? [\`--resume=\${req.sessionId}\`] : [])
      .concat(req.via === 'argv' ? ['--', req.prompt] : []),
  }),
  parse: (out) => {
    const r = lastJson(out.stdout, (v) => v.type === 'result')
    // No result: the core says why (timeout, exit code, what the CLI printed).
    if (!r) return noResult()
    if (r.is_error) throw new Error(\`${name} reported an error: \${str(r.error) ?? 'no message'}\`)
    const usage = { inputTokens: num(r.input_tokens), outputTokens: num(r.output_tokens) }
    return { text: str(r.text) ?? '', sessionId: str(r.session_id), usage, raw: r }
  },
})
`

const indexTestTs = (name: string, env: string) => `import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  pluginFileContents,
  type ExecOutcome,
} from 'workers-spawner/plugin'
import plugin from './index.ts'

const run = (stdout: string, more: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode: 0,
  stdout,
  stderr: '',
  timedOut: false,
  durationMs: 100,
  ...more,
})

const context = (configEnv: Record<string, string> = {}) =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv: {},
    configEnv,
    agent: '${name}',
    capabilities: [],
  })

describe('${name} plugin', () => {
  it('runs the CLI with the prompt after --, and resumes a session', () => {
    const req = { prompt: '-x', workdir: '/workspace', env: {}, stream: false }
    expect(agentPrompt(plugin, req).argv).toEqual(['${name}', '--json', '--', '-x'])
    expect(agentPrompt(plugin, { ...req, sessionId: 's1' }).argv).toContain('--resume=s1')
  })

  it('reads the result line', () => {
    const line = JSON.stringify({ type: 'result', text: '12', session_id: 's1', input_tokens: 5 })
    const reply = agentReply(plugin, run(\`log line\\n\${line}\\n\`))
    expect(reply).toMatchObject({ text: '12', sessionId: 's1', usage: { inputTokens: 5 } })
  })

  it('says why a run gave no result', () => {
    expect(() => agentReply(plugin, run('', { exitCode: 2, stderr: 'bad flag' }))).toThrow(
      '${name} exited 2 without a result: bad flag',
    )
  })

  it('writes its config from the settings', () => {
    const files = pluginFileContents(plugin, context({ ${env}_MODEL: 'm1' }))
    expect(JSON.parse(files['~/.${name}/config.json']!)).toEqual({ model: 'm1' })
  })
})
`

const readme = (name: string, env: string) => `# ${name} (agent)

Runs \`${name}\` headless in the worker. Installs the npm package \`${name}@0.1.0\`; the image
build runs \`${name} --version\` and fails if the CLI does not start.

\`\`\`json
{ "agent": "${name}", "env": { "${env}_MODEL": "my-model" } }
\`\`\`

## Settings

Read from the WorkerConfig's \`env\`, then from the spawner's environment:

| variable | what |
|---|---|
| \`${env}_API_KEY\` | the model provider's API key; from the spawner's environment it stays in the service's model gateway (the worker gets a credential of its own) |
| \`${env}_BASE_URL\` | the model endpoint the gateway forwards to (set in the spawner's environment); set in a worker's \`env\`, the worker brings its own key and network |
| \`${env}_LOG_LEVEL\` | the CLI's log level, passed through |
| \`${env}_MODEL\` | the model, written to \`~/.${name}/config.json\` (default \`default\`) |

## Sessions

A prompt with the \`sessionId\` of an earlier reply continues that conversation (\`--resume\`).
`

/**
 * Writes `<dir>/<name>/` (index.ts, README.md, index.test.ts) and returns the files written.
 * Throws on a name the contract refuses or a folder that exists.
 */
export const scaffoldPlugin = (name: string, dir = join(root, 'plugins')): string[] => {
  const valid = agentPluginSchema.shape.name.safeParse(name)
  if (!valid.success) {
    throw new Error(`'${name}' is not a plugin name: ${valid.error.issues[0]?.message}`)
  }
  const folder = join(dir, name)
  if (existsSync(folder)) throw new Error(`${folder} exists; pick another name or remove it`)
  const env = envPrefix(name)
  const files: [string, string][] = [
    ['index.ts', indexTs(name, env)],
    ['README.md', readme(name, env)],
    ['index.test.ts', indexTestTs(name, env)],
  ]
  mkdirSync(folder, { recursive: true })
  for (const [file, content] of files) writeFileSync(join(folder, file), content)
  return files.map(([file]) => join(folder, file))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--dir')
  const dir = at >= 0 ? args.splice(at, 2)[1] : undefined
  const [name] = args
  if (!name || args.length > 1) {
    console.error('usage: npm run plugin:new -- <name> [--dir <plugins folder>]')
    process.exit(2)
  }
  try {
    for (const file of scaffoldPlugin(name, dir))
      console.log(`wrote ${relative(process.cwd(), file)}`)
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  }
}
