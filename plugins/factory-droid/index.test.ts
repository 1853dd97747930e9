import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  pluginFileContents,
  pluginInstallSteps,
  type ExecOutcome,
  type PluginContext,
  type PromptRequest,
} from 'workers-spawner/plugin'
import { workerHostEnv } from '../../src/core/gateway-access.ts'
import droid, { customModel } from './index.ts'
import { recording } from './recordings.ts'

// The plugin's hooks, called as the core calls them.
const parse = (out: ExecOutcome) => agentReply(droid, out)
const promptFor = (req: PromptRequest) => agentPrompt(droid, req)
const filesOf = (c: PluginContext) => pluginFileContents(droid, c)

// Real output of droid 0.225.2 (`droid exec … -o json | -o stream-json`) against the stub model.
const JSON_OK = recording('json-ok')
const JSON_FORK = recording('json-fork')
const STREAM_OK = recording('stream-ok')
// Not logged in and no custom model (airgap off).
const JSON_AUTH = recording('json-auth')
const STREAM_AUTH = recording('stream-auth')
// The model server refused the connection.
const JSON_CONN = recording('json-conn')
const STREAM_CONN = recording('stream-conn')

const run = (stdout: string, exitCode = 0, more: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode,
  stdout,
  stderr: '',
  timedOut: false,
  durationMs: 500,
  ...more,
})

const ctx = (
  configEnv: Record<string, string>,
  hostEnv: Record<string, string> = {},
): PluginContext =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv,
    agent: 'factory-droid',
    capabilities: [],
  })

describe('factory-droid parse', () => {
  it('reads text, session id and usage from -o json', () => {
    const reply = parse(run(JSON_OK))
    expect(reply.text).toBe('12')
    expect(reply.sessionId).toBe('4ae78c00-c54a-4e51-b0bb-d196ef518f7e')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, factoryCredits: 0 })
    expect(reply.raw).toMatchObject({ type: 'result', subtype: 'success' })
  })

  it('a continued (forked) session answers under a new session id', () => {
    const reply = parse(run(JSON_FORK))
    expect(reply.text).toBe('3')
    expect(reply.sessionId).toBe('4afc8339-4c89-4901-922d-bdcbab7a57b2')
  })

  it('reads the completion event of -o stream-json and keeps every event as raw', () => {
    const reply = parse(run(STREAM_OK))
    expect(reply.text).toBe('42')
    expect(reply.sessionId).toBe('c28ca700-7e0f-4c6b-943c-08a06ac6f7fc')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3 })
    expect((reply.raw as { type: string }[]).map((e) => e.type)).toEqual([
      'system',
      'message',
      'message',
      'completion',
    ])
  })

  it("throws droid's own message when a run failed", () => {
    expect(() => parse(run(JSON_AUTH, 1))).toThrow(
      /exit 1\): Authentication failed\. Please log in/,
    )
    expect(() => parse(run(STREAM_AUTH, 1))).toThrow(/Error: Authentication failed/)
    expect(() => parse(run(JSON_CONN, 1))).toThrow(/droid exec failed \(exit 1\): Exec failed/)
    expect(() => parse(run(STREAM_CONN, 1))).toThrow(/Connection error\.; Exec failed/)
  })

  it('throws when droid printed nothing (an unknown session id ends so)', () => {
    expect(() => parse(run('', 1))).toThrow(
      /exited 1 without a result: no output, as with an unknown sessionId/,
    )
    expect(() => parse(run('', 1, { stderr: 'boom\n' }))).toThrow(/without a result: boom$/)
    expect(() => parse(run('', 137, { timedOut: true, durationMs: 9000 }))).toThrow(
      /timed out after 9000 ms/,
    )
  })
})

describe('factory-droid prompt', () => {
  const req = { prompt: 'What is 5 + 7?', workdir: '/workspace', env: {}, stream: false }

  it('runs droid exec headless with JSON output and no approvals, the prompt on stdin', () => {
    expect(promptFor(req)).toEqual({
      argv: ['droid', 'exec', '--skip-permissions-unsafe', '--output-format', 'json'],
      stdin: 'What is 5 + 7?',
    })
  })

  it('streams with stream-json', () => {
    expect(promptFor({ ...req, stream: true }).argv).toContain('stream-json')
  })

  it('continues a session by forking it; a prompt that looks like an option stays the prompt', () => {
    const cmd = promptFor({ ...req, prompt: '-x', sessionId: 'abc' })
    expect(cmd.argv.slice(-2)).toEqual(['--fork', 'abc'])
    expect(cmd.stdin).toBe('-x')
  })

  it('sends a prompt over the argv limit on stdin too (one argument over 128 KiB is refused)', () => {
    const prompt = `What is 20 + 22? ${'filler '.repeat(20_000)}`
    const cmd = promptFor({ ...req, prompt })
    expect(cmd.argv.join(' ')).not.toContain('filler')
    expect(cmd.stdin).toBe(prompt)
  })
})

describe('factory-droid config', () => {
  it("never sees the spawner's key: the gateway's credential, or the worker's own key", () => {
    const host = {
      FACTORY_MODEL_BASE_URL: 'http://gw/v1',
      FACTORY_MODEL: 'qwen3',
      FACTORY_MODEL_API_KEY: 'sk-operator',
    }
    const broker = {
      credential: 'wsk_cred',
      urlOf: (p: string) => `http://127.0.0.1:3128/model/${p}`,
    }
    // The spawner's environment as the core shows it to the plugin (see workerHostEnv).
    const modelOf = (configEnv: Record<string, string>) =>
      JSON.parse(
        filesOf(ctx(configEnv, workerHostEnv([droid], configEnv, host, broker) as never))[
          '~/.factory/config.json'
        ]!,
      ).custom_models[0]
    expect(modelOf({})).toMatchObject({
      api_key: 'wsk_cred',
      base_url: 'http://127.0.0.1:3128/model/factory-droid',
    })
    expect(modelOf({ FACTORY_MODEL: 'other' }).api_key).toBe('wsk_cred')
    expect(
      modelOf({ FACTORY_MODEL_BASE_URL: 'http://attacker.example/v1' }).api_key,
    ).toBeUndefined()
    expect(
      modelOf({ FACTORY_MODEL_BASE_URL: 'http://mine/v1', FACTORY_MODEL_API_KEY: 'sk-mine' })
        .api_key,
    ).toBe('sk-mine')
  })

  it('writes a custom model, makes it the default and turns airgap on', () => {
    const c = ctx(
      {
        FACTORY_MODEL: 'qwen3',
        FACTORY_MODEL_NAME: 'My  Qwen',
      },
      { FACTORY_MODEL_BASE_URL: 'http://gw/v1', FACTORY_MODEL_API_KEY: 'sk-1' },
    )
    const files = filesOf(c)
    expect(JSON.parse(files['~/.factory/config.json']!)).toEqual({
      custom_models: [
        {
          model_display_name: 'My  Qwen',
          model: 'qwen3',
          base_url: 'http://gw/v1',
          api_key: 'sk-1',
          provider: 'generic-chat-completion-api',
        },
      ],
    })
    expect(JSON.parse(files['~/.factory/settings.json']!)).toEqual({
      sessionDefaultSettings: { model: 'custom:My-Qwen-0' },
    })
    expect(droid.env!(c)).toMatchObject({ FACTORY_AIRGAP_ENABLED: '1' })
  })

  it('without a base URL writes only the default model, and stays online', () => {
    const c = ctx({ FACTORY_MODEL: 'claude-sonnet-4-6' })
    expect(filesOf(c)).toEqual({
      '~/.factory/settings.json':
        JSON.stringify({ sessionDefaultSettings: { model: 'claude-sonnet-4-6' } }, null, 2) + '\n',
    })
    expect(droid.env!(c).FACTORY_AIRGAP_ENABLED).toBeUndefined()
    expect(filesOf(ctx({}))).toEqual({})
  })

  it('refuses an incomplete or unknown model setup', () => {
    expect(() => customModel(ctx({ FACTORY_MODEL_BASE_URL: 'http://gw' }))).toThrow(
      /FACTORY_MODEL \(/,
    )
    expect(() =>
      customModel(
        ctx({
          FACTORY_MODEL_BASE_URL: 'http://gw',
          FACTORY_MODEL: 'm',
          FACTORY_MODEL_PROVIDER: 'x',
        }),
      ),
    ).toThrow(/FACTORY_MODEL_PROVIDER must be one of/)
  })

  it('pins the CLI and checks the binary runs', () => {
    expect(pluginInstallSteps(droid)).toEqual([
      { npm: ['@factory/cli-linux-x64@0.225.2', '@factory/cli@0.225.1'] },
      { run: 'droid --version' },
    ])
  })
})
