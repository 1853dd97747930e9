import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  type ExecOutcome,
  type PluginContext,
  type PromptRequest,
} from 'workers-spawner/plugin'
import codex, { RUN_SCRIPT, codexConfig } from './index.ts'

const DEFAULT_BASE_URL = 'https://api.openai.com/v1'

// The plugin's hooks, called as the core calls them.
const parseCodex = (out: ExecOutcome) => agentReply(codex, out)
const promptFor = (req: PromptRequest) => agentPrompt(codex, req)

// Output captured from codex 0.171.0 in the worker image against the test stub model.
const THREAD = '01a21a49-0603-7f93-be46-979985c9f450'
const FRESH = `{"type":"thread.started","thread_id":"${THREAD}"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"12"}}
{"type":"turn.completed","usage":{"input_tokens":12,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":3,"reasoning_output_tokens":0}}
`
// A resumed session: RUN_SCRIPT's line from the rollout first, then codex's running total.
const PRIOR = `{"timestamp":"2026-11-26T23:55:23.076Z","ordinal":16,"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":12,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":3,"reasoning_output_tokens":0,"total_tokens":15},"last_token_usage":{"input_tokens":12,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":3,"reasoning_output_tokens":0,"total_tokens":15},"last_usage_includes_reasoning":true,"model_context_window":475000},"rate_limits":{"limit_id":"codex","limit_name":null,"primary":null,"secondary":null,"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}`
const RESUMED = `${PRIOR}
{"type":"thread.started","thread_id":"${THREAD}"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"3"}}
{"type":"turn.completed","usage":{"input_tokens":24,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":6,"reasoning_output_tokens":0}}
`
const URL_401 = 'http://host.docker.internal:32773/401/v1/responses'
const REJECTED = `{"type":"thread.started","thread_id":"01a21a49-2659-7ea2-977e-04475ee4e7ea"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/5 (unexpected status 401 Unauthorized: Incorrect API key provided, url: ${URL_401})"}
{"type":"error","message":"unexpected status 401 Unauthorized: Incorrect API key provided, url: ${URL_401}"}
{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Incorrect API key provided, url: ${URL_401}"}}
`
const NO_ROLLOUT =
  'Error: thread/resume: thread/resume failed: no rollout found for thread id 01a21a49-0603-7f93-be46-000000000000 (code -32600)\n'
// A base URL nobody listens on: codex waits for the network until the command is killed.
const DEAD = `{"type":"thread.started","thread_id":"01a21a38-b37f-7ed2-8c09-38cd37ddd3e1"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}
`
// One tool call (a shell command), then the final answer.
const command = "/bin/bash -lc 'id; touch /workspace/probe && echo WROTE'"
const TOOL_USE = [
  { type: 'thread.started', thread_id: '01a21a49-d631-7943-a863-e970d6dddc60' },
  { type: 'turn.started' },
  {
    type: 'item.started',
    item: {
      id: 'item_0',
      type: 'command_execution',
      command,
      aggregated_output: '',
      exit_code: null,
      status: 'in_progress',
    },
  },
  {
    type: 'item.completed',
    item: {
      id: 'item_0',
      type: 'command_execution',
      command,
      aggregated_output: 'uid=1000(worker) gid=1000(worker) groups=1000(worker)\nWROTE\n',
      exit_code: 0,
      status: 'completed',
    },
  },
  { type: 'item.completed', item: { id: 'item_1', type: 'agent_message', text: 'done: WROTE' } },
  {
    type: 'turn.completed',
    usage: {
      input_tokens: 2,
      cached_input_tokens: 0,
      cache_write_input_tokens: 0,
      output_tokens: 2,
      reasoning_output_tokens: 0,
    },
  },
]
  .map((e) => JSON.stringify(e))
  .join('\n')

const outcome = (o: Partial<ExecOutcome>): ExecOutcome => ({
  exitCode: 0,
  stdout: '',
  stderr: '',
  timedOut: false,
  durationMs: 300,
  ...o,
})

const request = (o: Partial<PromptRequest> = {}): PromptRequest => ({
  prompt: 'What is 5 + 7?',
  workdir: '/workspace',
  env: {},
  stream: false,
  ...o,
})

const context = (
  configEnv: Record<string, string>,
  hostEnv: Record<string, string> = {},
): PluginContext =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv,
    agent: 'codex',
    capabilities: [],
  })

const FLAGS = ['--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox']

describe('codex prompt', () => {
  it('runs codex exec --json through the stdin-closing wrapper', () => {
    const { argv, stdin } = promptFor(request())
    expect(argv.slice(0, 3)).toEqual(['/bin/bash', '-c', RUN_SCRIPT])
    expect(argv.slice(3)).toEqual([
      '/dev/null',
      '',
      'codex',
      'exec',
      ...FLAGS,
      '--',
      'What is 5 + 7?',
    ])
    expect(stdin).toBeUndefined()
  })

  it('sends a prompt over the argv limit through stdin, as `-`', () => {
    const prompt = `What is 5 + 7? ${'x'.repeat(150_000)}`
    const { argv, stdin } = promptFor(request({ prompt }))
    expect(argv.slice(3)).toEqual(['/dev/stdin', '', 'codex', 'exec', ...FLAGS, '--', '-'])
    expect(stdin).toBe(prompt)
  })

  it('resumes a session by id, and looks its usage up only for a UUID', () => {
    const { argv } = promptFor(request({ prompt: '-n What is 1 + 2?', sessionId: THREAD }))
    expect(argv.slice(3)).toEqual([
      '/dev/null',
      THREAD,
      'codex',
      'exec',
      'resume',
      ...FLAGS,
      '--',
      THREAD,
      '-n What is 1 + 2?',
    ])
    const named = promptFor(request({ sessionId: 'my thread*' })).argv
    expect(named.slice(4, 7)).toEqual(['', 'codex', 'exec'])
    expect(named.slice(-2)).toEqual(['my thread*', 'What is 5 + 7?'])
  })

  it('streams the same JSONL with or without SSE, and takes a per-prompt model', () => {
    expect(promptFor(request({ stream: true })).argv).toEqual(promptFor(request()).argv)
    const { argv } = promptFor(request({ env: { CODEX_MODEL: 'gpt-5-codex' } }))
    expect(argv.slice(argv.indexOf('--model'), argv.indexOf('--model') + 2)).toEqual([
      '--model',
      'gpt-5-codex',
    ])
  })
})

describe('RUN_SCRIPT', () => {
  const home = mkdtempSync(join(tmpdir(), 'codex-home-'))
  const day = join(home, 'sessions', '2026', '11', '26')
  mkdirSync(day, { recursive: true })
  writeFileSync(
    join(day, `rollout-2026-11-26T23-55-20-${THREAD}.jsonl`),
    [
      '{"type":"session_meta"}',
      PRIOR.replace('"ordinal":16', '"ordinal":9'),
      PRIOR,
      '{"type":"response_item"}',
      '',
    ].join('\n'),
  )
  // Stdin comes from a file, not a pipe: a script that exits before reading it cannot EPIPE.
  const stdin = join(home, 'stdin.txt')
  writeFileSync(stdin, 'never read')
  const run = (id: string, ...argv: string[]) => runFrom('/dev/null', id, ...argv)
  const runFrom = (input: string, id: string, ...argv: string[]) => {
    const fd = openSync(stdin, 'r')
    try {
      return execFileSync('/bin/bash', ['-c', RUN_SCRIPT, input, id, ...argv], {
        env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: home },
        stdio: [fd, 'pipe', 'pipe'],
        encoding: 'utf8',
      })
    } finally {
      closeSync(fd)
    }
  }

  it('prints the session’s last token_count record, then runs argv with stdin closed', () => {
    expect(run(THREAD, 'cat')).toBe(`${PRIOR}\n`)
  })

  it('gives argv the prompt on stdin when told to', () => {
    expect(runFrom('/dev/stdin', '', 'cat')).toBe('never read')
  })

  it('prints nothing for a new or unknown session', () => {
    expect(run('', 'echo', 'ran')).toBe('ran\n')
    expect(run('01a21a49-0603-7f93-be46-000000000000', 'echo', 'ran')).toBe('ran\n')
  })
})

describe('codex files', () => {
  const file = (configEnv: Record<string, string>, hostEnv: Record<string, string> = {}) =>
    codex.files!(context(configEnv, hostEnv))['~/.codex/config.toml']!

  it('points a Responses API provider at OPENAI_BASE_URL, from the worker env first', () => {
    const files = codex.files!(
      context(
        { OPENAI_BASE_URL: 'http://gateway:4000/v1', CODEX_MODEL: 'gpt-5-codex' },
        { OPENAI_BASE_URL: 'http://host', OPENAI_API_KEY: 'sk-secret' },
      ),
    )
    expect(Object.keys(files)).toEqual(['~/.codex/config.toml'])
    const toml = files['~/.codex/config.toml']!
    expect(toml).toContain('model_provider = "custom"\nmodel = "gpt-5-codex"\n')
    expect(toml).toContain(
      '[model_providers.custom]\nname = "OpenAI-compatible"\nbase_url = "http://gateway:4000/v1"\n',
    )
    expect(toml).toContain('env_key = "OPENAI_API_KEY"\nwire_api = "responses"\n')
    expect(toml).toContain('approval_policy = "never"\nsandbox_mode = "danger-full-access"\n')
    expect(toml).toContain('analytics.enabled = false\n')
    expect(toml).toContain('[features]\nplugins = false\nremote_plugin = false\napps = false\n')
    expect(toml).not.toContain('sk-secret')
  })

  it('falls back to the spawner env, then to the OpenAI API with the CLI’s default model', () => {
    expect(file({}, { OPENAI_BASE_URL: 'http://host/v1' })).toContain('base_url = "http://host/v1"')
    const toml = file({}, { OPENAI_API_KEY: 'sk-secret' })
    expect(toml).toContain(
      `name = "OpenAI"\nbase_url = "${DEFAULT_BASE_URL}"\nenv_key = "OPENAI_API_KEY"`,
    )
    expect(toml).not.toMatch(/^model = /m)
  })

  it('names no key variable when there is no key (a keyless gateway)', () => {
    expect(file({ OPENAI_BASE_URL: 'http://gateway/v1' })).not.toContain('env_key')
    expect(file({ OPENAI_BASE_URL: 'http://gateway/v1', OPENAI_API_KEY: 'k' })).toContain('env_key')
  })

  it('escapes values as TOML strings', () => {
    expect(codexConfig(context({ CODEX_MODEL: 'a"b\\c' }))).toContain('model = "a\\"b\\\\c"')
  })
})

describe('codex parse', () => {
  it('reads the answer, the thread id and the usage', () => {
    const reply = parseCodex(
      outcome({ stdout: FRESH, stderr: 'Reading additional input from stdin...\n' }),
    )
    expect(reply.text).toBe('12')
    expect(reply.sessionId).toBe(THREAD)
    expect(reply.usage).toEqual({
      inputTokens: 12,
      outputTokens: 3,
      cachedInputTokens: 0,
      reasoningOutputTokens: 0,
    })
    expect(reply.raw).toHaveLength(4)
  })

  it('reports a resumed turn’s own usage, not the thread’s running total', () => {
    const reply = parseCodex(outcome({ stdout: RESUMED }))
    expect(reply.text).toBe('3')
    expect(reply.sessionId).toBe(THREAD)
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3 })
  })

  it('answers with the last agent message after tool calls', () => {
    const reply = parseCodex(outcome({ stdout: TOOL_USE }))
    expect(reply.text).toBe('done: WROTE')
    expect(reply.usage).toMatchObject({ inputTokens: 2, outputTokens: 2 })
  })

  it('throws codex’s message when the turn failed', () => {
    expect(() => parseCodex(outcome({ exitCode: 1, stdout: REJECTED }))).toThrow(
      `codex turn failed: unexpected status 401 Unauthorized: Incorrect API key provided, url: ${URL_401}`,
    )
  })

  it('throws the CLI’s error when it exits without an answer (unknown session)', () => {
    expect(() => parseCodex(outcome({ exitCode: 1, stderr: NO_ROLLOUT }))).toThrow(
      /^codex exited 1 without a result: Error: thread\/resume: .*no rollout found/,
    )
  })

  it('throws on a timeout, with the last thing codex said', () => {
    expect(() =>
      parseCodex(outcome({ exitCode: 124, timedOut: true, durationMs: 60_000, stdout: DEAD })),
    ).toThrow(
      'codex timed out after 60000 ms without a result: Reconnecting... waiting for network (Connection failed: error sending request)',
    )
  })
})
