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
import plugin, { CONFIG_PATH, OPENCODE_VERSION, opencodeConfig } from './index.ts'
import { FIRST, NOT_FOUND, SECOND, TOOL, UNREACHABLE } from './output.fixtures.ts'

// The plugin's hooks, called as the core calls them.
const parseOpencodeOutput = (out: ExecOutcome) => agentReply(plugin, out)
const promptFor = (req: PromptRequest) => agentPrompt(plugin, req)

// `--session` with an id this worker never made: nothing on stdout, exit code 1.
const NO_SESSION_STDERR = '\u001b[91m\u001b[1mError: \u001b[0mSession not found\n'

const outcome = (stdout: string, extra: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode: 0,
  stdout: stdout.trimStart(),
  stderr: '',
  timedOut: false,
  durationMs: 2500,
  ...extra,
})

const request = (over: Partial<PromptRequest> = {}): PromptRequest => ({
  prompt: 'What is 5 + 7?',
  workdir: '/workspace',
  env: {},
  stream: false,
  ...over,
})

type Env = Record<string, string>

const context = (configEnv: Env = {}, hostEnv: Env = {}): PluginContext =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv,
    agent: 'opencode',
    capabilities: [],
  })

const GATEWAY = {
  OPENCODE_PROVIDER_BASE_URL: 'http://gateway:4000/v1',
  OPENCODE_MODEL: 'stub-model',
}

describe('opencode parse', () => {
  it('reads text, session id and usage from the JSON events', () => {
    const reply = parseOpencodeOutput(outcome(FIRST))
    expect(reply.text).toBe('12')
    expect(reply.sessionId).toBe('ses_de5bd6f7affeg4HDr1JokfHikj')
    expect(reply.usage).toEqual({
      inputTokens: 12,
      outputTokens: 3,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      costUsd: 0,
    })
    expect((reply.raw as unknown[]).length).toBe(3)
  })

  it('keeps the session id of a resumed run', () => {
    const reply = parseOpencodeOutput(outcome(SECOND))
    expect(reply.text).toBe('3')
    expect(reply.sessionId).toBe('ses_de5bd6f7affeg4HDr1JokfHikj')
  })

  it('answers with the last message, after the tool calls, and sums every step', () => {
    const reply = parseOpencodeOutput(outcome(TOOL))
    expect(reply.text).toBe('12')
    expect(reply.usage).toMatchObject({ inputTokens: 50, outputTokens: 7, cacheReadInputTokens: 8 })
  })

  it('throws the error opencode reported', () => {
    expect(() => parseOpencodeOutput(outcome(UNREACHABLE, { exitCode: 1 }))).toThrow(
      'opencode reported an error (APIError: Cannot connect to API: Unable to connect.',
    )
    expect(() => parseOpencodeOutput(outcome(NOT_FOUND, { exitCode: 1 }))).toThrow(
      /APIError: Not Found.*no handler/,
    )
  })

  it('throws what stderr said when there is no event, without colour codes', () => {
    const out = outcome('', { exitCode: 1, stderr: NO_SESSION_STDERR })
    expect(() => parseOpencodeOutput(out)).toThrow(
      /^opencode exited 1 without a result: Error: Session not found$/,
    )
  })

  it('throws on a timeout, even after some events', () => {
    const cut = FIRST.trim().split('\n').slice(0, 2).join('\n')
    const out = outcome(cut, { exitCode: 137, timedOut: true })
    expect(() => parseOpencodeOutput(out)).toThrow(/timed out after 2500 ms/)
  })

  it('throws when no step finished', () => {
    const cut = FIRST.trim().split('\n').slice(0, 2).join('\n')
    expect(() => parseOpencodeOutput(outcome(cut))).toThrow(/exited 0 without a result/)
    expect(() => parseOpencodeOutput(outcome(''))).toThrow(/exited 0 without a result: no output/)
  })
})

describe('opencode prompt', () => {
  it('runs opencode with JSON events and the prompt on stdin, verbatim', () => {
    const cmd = promptFor(request({ prompt: '-h "quoted" and spaced' }))
    const run = ['opencode', 'run', '--format', 'json', '--auto', '--thinking', '--title']
    expect(cmd.argv).toEqual(run)
    expect(cmd.stdin).toBe('-h "quoted" and spaced')
  })

  it('continues a session with --session=<id> and leaves its title alone', () => {
    const { argv } = promptFor(request({ sessionId: 'ses_abc' }))
    expect(argv).toContain('--session=ses_abc')
    expect(argv).not.toContain('--title')
  })

  it('streams the same JSON lines: opencode prints each event as it happens', () => {
    expect(promptFor(request({ stream: true })).argv).toEqual(promptFor(request()).argv)
  })
})

describe('opencode config', () => {
  it('installs a pinned opencode and checks that it runs', () => {
    expect(pluginInstallSteps(plugin)).toContainEqual({ npm: [`opencode-ai@${OPENCODE_VERSION}`] })
    expect(pluginInstallSteps(plugin).at(-1)).toEqual({ run: 'opencode --version' })
  })

  it('writes a gateway provider whose key stays in the environment', () => {
    const files = pluginFileContents(
      plugin,
      context({ ...GATEWAY, OPENCODE_PROVIDER_API_KEY: 'sk-secret' }),
    )
    const text = files[CONFIG_PATH]!
    expect(text).not.toContain('sk-secret')
    expect(JSON.parse(text)).toEqual({
      autoupdate: false,
      share: 'disabled',
      model: 'gateway/stub-model',
      small_model: 'gateway/stub-model',
      provider: {
        gateway: {
          npm: '@ai-sdk/openai-compatible',
          name: 'Model gateway',
          options: { baseURL: 'http://gateway:4000/v1', apiKey: '{env:OPENCODE_PROVIDER_API_KEY}' },
          models: { 'stub-model': { name: 'stub-model' } },
        },
      },
    })
  })

  it('reads the spawner env when the worker env is silent, and picks the wire API', () => {
    const config = opencodeConfig(context({ OPENCODE_PROVIDER_API: 'anthropic' }, { ...GATEWAY }))
    const gateway = (config.provider as Record<string, { npm: string; options: object }>).gateway!
    expect(gateway.npm).toBe('@ai-sdk/anthropic')
    expect(gateway.options).toEqual({ baseURL: 'http://gateway:4000/v1' })
  })

  it('without a base URL only picks a built-in model, if any', () => {
    expect(opencodeConfig(context())).toEqual({ autoupdate: false, share: 'disabled' })
    const builtIn = opencodeConfig(context({ OPENCODE_MODEL: 'anthropic/claude-sonnet-4-5' }))
    expect(builtIn).toMatchObject({ model: 'anthropic/claude-sonnet-4-5' })
  })

  it('refuses settings opencode could not use, at env() time', () => {
    const noModel = context({ OPENCODE_PROVIDER_BASE_URL: 'http://gateway:4000/v1' })
    expect(() => plugin.env!(noModel)).toThrow(/OPENCODE_MODEL/)
    const badApi = context({ ...GATEWAY, OPENCODE_PROVIDER_API: 'grpc' })
    expect(() => plugin.env!(badApi)).toThrow(/OPENCODE_PROVIDER_API/)
    const inherited = context({ ...GATEWAY, OPENCODE_PROVIDER_API: 'constructor' })
    expect(() => plugin.env!(inherited)).toThrow(/OPENCODE_PROVIDER_API/)
    expect(plugin.env!(context(GATEWAY))).toMatchObject({ OPENCODE_DISABLE_MODELS_FETCH: '1' })
  })

  it('caps retries of a failing model at 2 unless OPENCODE_MAX_RETRIES says otherwise', () => {
    expect(plugin.env!(context(GATEWAY))).toMatchObject({
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_MAX_RETRIES: '2',
    })
    const own = context({ ...GATEWAY }, { OPENCODE_MAX_RETRIES: '5' })
    expect(plugin.env!(own)).toMatchObject({ OPENCODE_MAX_RETRIES: '5' })
    const files = pluginFileContents(plugin, context(GATEWAY))
    expect(files['~/.config/opencode/plugins/retry-cap.js']).toContain('OPENCODE_MAX_RETRIES')
    // Already installed, as opencode sees it: a plugin folder alone would fetch from npm.
    const lock = JSON.parse(files['~/.config/opencode/package-lock.json']!)
    expect(lock.packages[''].dependencies).toHaveProperty('@opencode-ai/plugin')
    expect(files).toHaveProperty(['~/.config/opencode/node_modules/.keep'])
  })
})
