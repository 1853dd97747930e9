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

// The plugin's hooks, called as the core calls them.
const parse = (out: ExecOutcome) => agentReply(droid, out)
const promptFor = (req: PromptRequest) => agentPrompt(droid, req)
const filesOf = (c: PluginContext) => pluginFileContents(droid, c)

// Real output of droid 0.225.2 (`droid exec … -o json | -o stream-json`) against the stub model.
const JSON_OK = `{"type":"result","subtype":"success","is_error":false,"duration_ms":127,"num_turns":1,"result":"12","session_id":"4ae78c00-c54a-4e51-b0bb-d196ef518f7e","usage":{"input_tokens":12,"output_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0,"ttft_ms":16}}
`
const JSON_FORK = `{"type":"result","subtype":"success","is_error":false,"duration_ms":82,"num_turns":2,"result":"3","session_id":"4afc8339-4c89-4901-922d-bdcbab7a57b2","usage":{"input_tokens":12,"output_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0,"ttft_ms":7}}
`
const STREAM_OK = `{"type":"system","subtype":"init","cwd":"/workspace","session_id":"c28ca700-7e0f-4c6b-943c-08a06ac6f7fc","tools":["Read","LS","Execute","Edit","ApplyPatch","Grep","Glob","Create","ExitSpecMode","RecommendMission","ExitMissionPlanning","AskUser","WebSearch","TodoWrite","FetchUrl","slack_post_file","slack_post_message","slack_create_or_update_code_channel","slack_archive_code_channel","slack_list_channels","store_agent_readiness_report","get_agent_effectiveness_usage","render_agent_effectiveness_report","GenerateDroid","UpgradeSessionModel","StageSettingsChanges","Script","WaitForScript","TaskOutput","TaskStop","ToolSearch","Skill","ProposeMission","StartMissionRun","EndFeatureRun","DismissHandoffItems","GenerateImage","Loop","Task"],"model":"gpt-5.6-sol","reasoning_effort":"medium"}
{"type":"message","role":"user","id":"6950f0b8-045b-4fdc-8b7b-d8fc01f55101","text":"What is 20 + 22?","timestamp":1795736360658,"session_id":"c28ca700-7e0f-4c6b-943c-08a06ac6f7fc"}
{"type":"message","role":"assistant","id":"dcd06ff3-cca2-42e0-8c0b-d51349127c3b","text":"42","timestamp":1795736360708,"session_id":"c28ca700-7e0f-4c6b-943c-08a06ac6f7fc"}
{"type":"completion","finalText":"42","numTurns":1,"durationMs":98,"session_id":"c28ca700-7e0f-4c6b-943c-08a06ac6f7fc","timestamp":1795736360715,"usage":{"input_tokens":12,"output_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0,"ttft_ms":6}}
`
// Not logged in and no custom model (airgap off).
const JSON_AUTH = `{"type":"result","subtype":"failure","is_error":true,"duration_ms":2,"num_turns":0,"result":"Authentication failed. Please log in using /login or set a valid FACTORY_API_KEY environment variable.","session_id":"da026635-9334-461c-8250-ce6905194120","usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0}}
`
const STREAM_AUTH = `{"type":"system","subtype":"init","cwd":"/workspace","session_id":"27b09025-3647-4329-9102-d2ccab73bb99","tools":["Read","LS","Execute","Edit","ApplyPatch","Grep","Glob","Create","ExitSpecMode","RecommendMission","ExitMissionPlanning","AskUser","WebSearch","TodoWrite","FetchUrl","slack_post_file","slack_post_message","slack_create_or_update_code_channel","slack_archive_code_channel","slack_list_channels","store_agent_readiness_report","get_agent_effectiveness_usage","render_agent_effectiveness_report","GenerateDroid","UpgradeSessionModel","StageSettingsChanges","Script","WaitForScript","TaskOutput","TaskStop","ToolSearch","Skill","ProposeMission","StartMissionRun","EndFeatureRun","DismissHandoffItems","ConnectorSearch","GenerateImage","Loop","Task"],"model":"gpt-5.6-sol","reasoning_effort":"medium"}
{"type":"error","source":"cli","message":"Error: Authentication failed. Please log in using /login or set a valid FACTORY_API_KEY environment variable.","timestamp":1795736368315,"session_id":"27b09025-3647-4329-9102-d2ccab73bb99"}
`
// The model server refused the connection.
const JSON_CONN = `{"type":"result","subtype":"failure","is_error":true,"duration_ms":112,"num_turns":0,"result":"Exec failed","session_id":"9a4e2107-55b3-415c-8780-1f3eb129ec61","usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0}}
`
const STREAM_CONN = `{"type":"system","subtype":"init","cwd":"/workspace","session_id":"14065efe-7d21-4bcb-8163-f40087c4b92e","tools":["Read","LS","Execute","Edit","ApplyPatch","Grep","Glob","Create","ExitSpecMode","RecommendMission","ExitMissionPlanning","AskUser","WebSearch","TodoWrite","FetchUrl","slack_post_file","slack_post_message","slack_create_or_update_code_channel","slack_archive_code_channel","slack_list_channels","store_agent_readiness_report","get_agent_effectiveness_usage","render_agent_effectiveness_report","GenerateDroid","UpgradeSessionModel","StageSettingsChanges","Script","WaitForScript","TaskOutput","TaskStop","ToolSearch","Skill","ProposeMission","StartMissionRun","EndFeatureRun","DismissHandoffItems","GenerateImage","Loop","Task"],"model":"gpt-5.6-sol","reasoning_effort":"medium"}
{"type":"message","role":"user","id":"1a94a946-8ea7-456c-80a1-c2d08ea278de","text":"What is 5 + 7?","timestamp":1795736361031,"session_id":"14065efe-7d21-4bcb-8163-f40087c4b92e"}
{"type":"error","source":"agent_loop","message":"Connection error.","timestamp":1795736361078,"session_id":"14065efe-7d21-4bcb-8163-f40087c4b92e"}
{"type":"error","source":"cli","message":"Exec failed","timestamp":1795736361085,"session_id":"14065efe-7d21-4bcb-8163-f40087c4b92e"}
`

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
