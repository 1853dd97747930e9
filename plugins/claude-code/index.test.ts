import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  pluginInstallSteps,
  type ExecOutcome,
  type PluginContext,
  type PromptRequest,
} from 'workers-spawner/plugin'
import plugin, { CLAUDE_CODE_VERSION } from './index.ts'
import { recording } from './recordings.ts'

// The plugin's hooks, called as the core calls them.
const parseClaudeOutput = (out: ExecOutcome) => agentReply(plugin, out)
const command = (req: PromptRequest) => agentPrompt(plugin, req)

// Real output of claude 2.1.332 in a worker (see recordings.ts).
const FIRST = recording('text')
const SECOND = recording('text-resumed')
const PARTIAL = recording('text-streamed')
const REFUSED = recording('api-error')
const NOCONV = recording('unknown-session')
const JSON_MODE = recording('json-mode')

const outcome = (stdout: string, extra: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode: 0,
  stdout: stdout.trimStart(),
  stderr: '',
  timedOut: false,
  durationMs: 500,
  ...extra,
})

const request = (over: Partial<PromptRequest> = {}): PromptRequest => ({
  prompt: 'What is 5 + 7?',
  workdir: '/workspace',
  env: {},
  stream: false,
  ...over,
})

const context = (hostEnv: Record<string, string> = {}): PluginContext =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv: {},
    agent: 'claude-code',
    capabilities: [],
  })

describe('claude-code parse', () => {
  it('reads the result line of stream-json: text, session, usage, cost', () => {
    const reply = parseClaudeOutput(outcome(FIRST))
    expect(reply.text).toBe('12')
    expect(reply.sessionId).toBe('6e9bfe62-bc71-4e20-8f6c-a82772828eb9')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, costUsd: 0.000108 })
    expect(reply.raw).toMatchObject({ type: 'result', subtype: 'success' })
  })

  it('counts only this run’s cost on a resumed session, not the session total', () => {
    const reply = parseClaudeOutput(outcome(SECOND))
    expect(reply.text).toBe('3')
    expect(reply.sessionId).toBe('6e9bfe62-bc71-4e20-8f6c-a82772828eb9')
    expect((reply.raw as { total_cost_usd: number }).total_cost_usd).toBe(0.000216)
    expect(reply.usage?.costUsd).toBe(0.000108)
  })

  it('reads a streamed run with partial messages', () => {
    expect(parseClaudeOutput(outcome(PARTIAL)).text).toBe('42')
  })

  it('reads the single object of --output-format json too', () => {
    const reply = parseClaudeOutput(outcome(JSON_MODE))
    expect(reply.text).toBe('12')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, costUsd: 0.000108 })
  })

  it('throws on is_error: an API failure never reads as the answer', () => {
    const run = () => parseClaudeOutput(outcome(REFUSED, { exitCode: 1 }))
    expect(run).toThrow(
      /claude reported an error \(success, connection_failed\): API Error: Connection refused/,
    )
  })

  it('throws with the CLI’s own message when the session is unknown', () => {
    const stderr = 'No conversation found with session ID: 00000000-0000-0000-0000-000000000000\n'
    const run = () => parseClaudeOutput(outcome(NOCONV, { exitCode: 1, stderr }))
    expect(run).toThrow(/\(error_during_execution\): No conversation found with session ID/)
  })

  it('throws with stderr when there is no result at all', () => {
    const stderr = 'Error: When using --print, --output-format=stream-json requires --verbose\n'
    const run = () => parseClaudeOutput(outcome('', { exitCode: 1, stderr }))
    expect(run).toThrow('claude exited 1 without a result: Error: When using --print')
  })

  it('says so when the run timed out before its result', () => {
    const cut = FIRST.trimStart().split('\n').slice(0, 2).join('\n')
    const run = () =>
      parseClaudeOutput(outcome(cut, { exitCode: 137, timedOut: true, durationMs: 60_000 }))
    expect(run).toThrow('claude timed out after 60000 ms without a result')
  })
})

describe('claude-code prompt', () => {
  const claudeArgs = (argv: string[]) => argv.slice(argv.indexOf('claude') + 1)

  it('runs claude -p with stream-json, the prompt after --', () => {
    const cmd = command(request())
    expect(cmd.argv.slice(0, 2)).toEqual(['/bin/sh', '-c'])
    expect(claudeArgs(cmd.argv)).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
      '--',
      'What is 5 + 7?',
    ])
    expect(cmd.stdin).toBeUndefined()
  })

  it('resumes a session with --resume=<id>', () => {
    const args = claudeArgs(command(request({ sessionId: 'abc-123' })).argv)
    expect(args).toContain('--resume=abc-123')
    expect(args.indexOf('--resume=abc-123')).toBeLessThan(args.indexOf('--'))
  })

  it('asks for token-level partial messages only when streaming', () => {
    expect(command(request({ stream: true })).argv).toContain('--include-partial-messages')
    expect(command(request({ stream: false })).argv).not.toContain('--include-partial-messages')
  })

  it('sends a prompt too long for one argument through stdin', () => {
    const prompt = 'x'.repeat(150_000)
    const cmd = command(request({ prompt }))
    expect(cmd.stdin).toBe(prompt)
    expect(cmd.argv).not.toContain(prompt)
    expect(cmd.argv.at(-1)).toBe('--dangerously-skip-permissions')
  })
})

describe('claude-code launcher: an OAuth session takes precedence over the API key', () => {
  // Runs the plugin's argv with a fake `claude` that reports whether it was given the key.
  const run = (opts: { credentials?: boolean; oauthToken?: boolean }) => {
    const root = mkdtempSync(join(tmpdir(), 'claude-code-test-'))
    try {
      const bin = join(root, 'bin')
      mkdirSync(bin)
      writeFileSync(
        join(bin, 'claude'),
        '#!/bin/sh\necho "key=${ANTHROPIC_API_KEY:-none} args=$*"\n',
      )
      chmodSync(join(bin, 'claude'), 0o755)
      if (opts.credentials) {
        mkdirSync(join(root, '.claude'))
        writeFileSync(join(root, '.claude', '.credentials.json'), '{"claudeAiOauth":{}}')
      }
      const argv = command(request({ prompt: 'hi' })).argv
      const env: Record<string, string> = {
        PATH: `${bin}:/usr/bin:/bin`,
        HOME: root,
        ANTHROPIC_API_KEY: 'k',
      }
      if (opts.oauthToken) env.CLAUDE_CODE_OAUTH_TOKEN = 't'
      return execFileSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8' }).trim()
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }

  it('keeps the key when there is no OAuth session', () => {
    expect(run({})).toBe(
      'key=k args=-p --output-format stream-json --verbose --dangerously-skip-permissions -- hi',
    )
  })

  it('drops the key when ~/.claude holds OAuth credentials', () => {
    expect(run({ credentials: true })).toMatch(/^key=none /)
  })

  it('drops the key when CLAUDE_CODE_OAUTH_TOKEN is set', () => {
    expect(run({ oauthToken: true })).toMatch(/^key=none /)
  })
})

describe('claude-code plugin', () => {
  it('pins the CLI and checks that it runs', () => {
    expect(pluginInstallSteps(plugin)).toEqual([
      { npm: [`@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`] },
      { run: 'claude --version' },
    ])
  })

  it('copies only the OAuth credentials from HOST_CLAUDE_DIR, and mounts nothing', () => {
    expect(plugin.mounts).toBeUndefined()
    expect(plugin.hostFiles).toEqual([
      {
        fromEnv: 'HOST_CLAUDE_DIR',
        file: '.credentials.json',
        target: '~/.claude/.credentials.json',
      },
    ])
  })

  it('quiets side traffic and retries; passes the spawner’s model through (the gateway sets the URL)', () => {
    expect(plugin.env!(context())).toEqual({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '0',
    })
    const hostEnv = {
      ANTHROPIC_BASE_URL: 'http://gw:4000',
      ANTHROPIC_MODEL: 'm',
      CLAUDE_CODE_MAX_RETRIES: '5',
      OTHER: 'x',
    }
    expect(plugin.env!(context(hostEnv))).toEqual({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '5',
      ANTHROPIC_MODEL: 'm',
    })
  })
})
