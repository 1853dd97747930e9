import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  pluginFileContents,
  type ExecOutcome,
  type PluginContext,
  type PromptRequest,
} from 'workers-spawner/plugin'
import gemini, { DEFAULT_MODEL, geminiSettings } from './index.ts'
import { STREAMED_DEAD } from './updates.fixtures.ts'

// The plugin's hooks, called as the core calls them.
const parseGeminiOutput = (out: ExecOutcome) => agentReply(gemini, out)
const promptFor = (req: PromptRequest) => agentPrompt(gemini, req)

// Output captured from gemini 0.61.0 in the worker image against the test stub model.
const NOTICES = [
  'Warning: 256-color support not detected. Using a terminal with at least 256-color support is recommended for a better visual experience.',
  'YOLO mode is enabled. All tool calls will be automatically approved.',
  'YOLO mode is enabled. All tool calls will be automatically approved.',
  'Ripgrep is not available. Falling back to GrepTool.',
].join('\n')

const STREAM_OK = `{"type":"init","timestamp":"2026-11-26T23:42:40.164Z","session_id":"36a44430-c741-4c09-80f8-b6fd016ddd77","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-11-26T23:42:40.165Z","role":"user","content":"What is 20 + 22?"}
{"type":"message","timestamp":"2026-11-26T23:42:40.229Z","role":"assistant","content":"42","delta":true}
{"type":"result","timestamp":"2026-11-26T23:42:40.254Z","status":"success","stats":{"total_tokens":15,"input_tokens":12,"output_tokens":3,"cached":0,"input":12,"duration_ms":91,"tool_calls":0,"models":{"gemini-2.5-pro":{"total_tokens":15,"input_tokens":12,"output_tokens":3,"cached":0,"input":12}}}}
`

const FETCH_FAILED = `Error when talking to Gemini API Full report available at: /tmp/gemini-client-error-Turn.run-sendMessageStream-2026-11-26T23-42-50-058Z.json Error: exception TypeError: fetch failed sending request
    at file:///usr/local/lib/node_modules/@google/gemini-cli/bundle/chunk-JDPZ4CE3.js:267671:13
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`

const BAD_RESUME_STDERR = `Error resuming session: Invalid session identifier "no-such-session".
  Searched for sessions in /home/worker/.gemini/tmp/workspace/chats.
  Use --list-sessions to see available sessions, then use --resume {number}, --resume {uuid}, or --resume latest.
`

const outcome = (o: Partial<ExecOutcome>): ExecOutcome => ({
  exitCode: 0,
  stdout: '',
  stderr: '',
  timedOut: false,
  durationMs: 2000,
  ...o,
})

describe('gemini-cli parse', () => {
  it('reads text, session id and usage from --output-format stream-json', () => {
    const reply = parseGeminiOutput(outcome({ stdout: STREAM_OK }))
    expect(reply.text).toBe('42')
    expect(reply.sessionId).toBe('36a44430-c741-4c09-80f8-b6fd016ddd77')
    expect(reply.usage).toEqual({ inputTokens: 12, outputTokens: 3, cachedInputTokens: 0 })
    expect((reply.raw as { type: string }).type).toBe('result')
  })

  it('keeps only the last turn of a stream with tool calls, joining its deltas', () => {
    const lines = STREAM_OK.split('\n')
    const tool = [
      '{"type":"message","role":"assistant","content":"Let me look.","delta":true}',
      '{"type":"tool_use","tool_name":"ls","tool_id":"t1","parameters":{}}',
      '{"type":"tool_result","tool_id":"t1","status":"success","output":"a.txt"}',
      '{"type":"message","role":"assistant","content":"4","delta":true}',
    ]
    const stdout = [lines[0], lines[1], ...tool, lines[2], lines[3]].join('\n')
    expect(parseGeminiOutput(outcome({ stdout })).text).toBe('442')
  })

  it('throws the error the CLI reported with stream-json output', () => {
    const out = outcome({
      exitCode: 1,
      stdout: STREAMED_DEAD,
      stderr: `${NOTICES}\n${FETCH_FAILED}`,
    })
    expect(() => parseGeminiOutput(out)).toThrow(
      'gemini reported an error (unknown): [API Error: exception TypeError: fetch failed sending request]',
    )
  })

  it('throws what stderr said when there is no result (an unknown session id)', () => {
    const out = outcome({ exitCode: 42, stderr: `${NOTICES}\n${BAD_RESUME_STDERR}` })
    expect(() => parseGeminiOutput(out)).toThrow(
      /^gemini exited 42 without a result: Error resuming session: Invalid session identifier "no-such-session"/,
    )
    expect(() => parseGeminiOutput(out)).not.toThrow(/256-color/)
  })

  it('says so when the run timed out before a result', () => {
    const stdout = STREAM_OK.split('\n').slice(0, 2).join('\n')
    expect(() =>
      parseGeminiOutput(outcome({ exitCode: 137, stdout, timedOut: true, durationMs: 5000 })),
    ).toThrow('gemini timed out after 5000 ms without a result')
  })
})

describe('gemini-cli prompt', () => {
  const req = { prompt: 'What is 5 + 7?', workdir: '/workspace', env: {}, stream: false }

  it('runs headless with stream-json output and every tool call approved', () => {
    expect(promptFor(req)).toEqual({
      argv: [
        'gemini',
        '--prompt=What is 5 + 7?',
        '--output-format=stream-json',
        '--approval-mode=yolo',
      ],
      // Its stdout written synchronously, so the result line is not lost at its exit.
      env: { NODE_OPTIONS: '--require=/home/worker/.gemini/blocking-stdio.cjs' },
    })
    const files = pluginFileContents(
      gemini,
      createContext({
        workerId: 'w1',
        workdir: '/workspace',
        hostEnv: {},
        configEnv: {},
        agent: 'gemini-cli',
        capabilities: [],
      }),
    )
    expect(files['/home/worker/.gemini/blocking-stdio.cjs']).toMatch(/setBlocking\?\.\(true\)/)
  })

  // `json` is one pretty-printed object: no line of it is one the updates could read.
  it('asks for stream-json when streaming too', () => {
    expect(promptFor({ ...req, stream: true }).argv).toContain('--output-format=stream-json')
  })

  it('resumes a session as one argument', () => {
    const argv = promptFor({ ...req, sessionId: '36a44430-c741-4c09-80f8-b6fd016ddd77' }).argv
    expect(argv.at(-1)).toBe('--resume=36a44430-c741-4c09-80f8-b6fd016ddd77')
  })

  it('keeps a prompt that starts with a dash inside --prompt=', () => {
    expect(promptFor({ ...req, prompt: '--version' }).argv[1]).toBe('--prompt=--version')
  })

  it('sends a prompt too large for argv through stdin', () => {
    const prompt = 'x'.repeat(200_000)
    const cmd = promptFor({ ...req, prompt })
    expect(cmd.argv[1]).toBe('--prompt=')
    expect(cmd.stdin).toBe(prompt)
  })
})

describe('gemini-cli settings', () => {
  const ctx = (
    configEnv: Record<string, string>,
    hostEnv: Record<string, string> = {},
  ): PluginContext =>
    createContext({
      workerId: 'w1',
      workdir: '/workspace',
      hostEnv,
      configEnv,
      agent: 'gemini-cli',
      capabilities: [],
    })

  it('writes the api-key auth type and turns off telemetry and usage statistics', () => {
    const files = pluginFileContents(gemini, ctx({}))
    const settings = JSON.parse(files['~/.gemini/settings.json']!)
    expect(settings.security.auth.selectedType).toBe('gemini-api-key')
    expect(settings.privacy.usageStatisticsEnabled).toBe(false)
    expect(settings.telemetry.enabled).toBe(false)
    expect(settings.model.name).toBe(DEFAULT_MODEL)
    expect(settings.general.maxAttempts).toBe(1)
  })

  it("takes the model from the worker's env, then the spawner's", () => {
    expect(geminiSettings(ctx({ GEMINI_MODEL: 'a' }, { GEMINI_MODEL: 'b' })).model.name).toBe('a')
    expect(geminiSettings(ctx({}, { GEMINI_MODEL: 'b' })).model.name).toBe('b')
  })

  it('makes one model call attempt unless GEMINI_MAX_ATTEMPTS says more (at most 10)', () => {
    expect(geminiSettings(ctx({})).general.maxAttempts).toBe(1)
    expect(geminiSettings(ctx({ GEMINI_MAX_ATTEMPTS: '3' })).general.maxAttempts).toBe(3)
    expect(geminiSettings(ctx({ GEMINI_MAX_ATTEMPTS: '1' })).general.maxAttempts).toBe(1)
    expect(geminiSettings(ctx({ GEMINI_MAX_ATTEMPTS: '50' })).general.maxAttempts).toBe(10)
    expect(geminiSettings(ctx({ GEMINI_MAX_ATTEMPTS: 'x' })).general.maxAttempts).toBe(1)
  })

  it('trusts the workspace (the gateway, not the plugin, sets the base URL)', () => {
    expect(gemini.env!(ctx({}, { GOOGLE_GEMINI_BASE_URL: 'http://gw:4000' }))).toEqual({
      GEMINI_CLI_TRUST_WORKSPACE: 'true',
      GEMINI_CLI_NO_RELAUNCH: 'true',
    })
  })
})
