import { describe, expect, it } from 'vitest'
import { workerConfigSchema } from '../config.ts'
import { buildContainerSpec, pluginFiles } from '../spec.ts'
import {
  defineAgent,
  defineCapability,
  type AgentDefinition,
  type ExecOutcome,
} from './contract.ts'
import {
  agentPrompt,
  agentReply,
  createContext,
  noResultMessage,
  pluginEnv,
  pluginFileContents,
  pluginInstallSteps,
} from './hooks.ts'
import { MAX_ARGV_PROMPT_BYTES, noResult } from './kit.ts'

const SECRET = 'sk-live-do-not-echo'

const ctx = (configEnv: Record<string, string> = {}, hostEnv: Record<string, string> = {}) =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv,
    agent: 'a',
    capabilities: [],
  })

const agent = (extra: Partial<AgentDefinition> = {}) =>
  defineAgent({
    apiVersion: 'v1',
    name: 'probe',
    version: '1.0.0',
    description: 'probe',
    prompt: (req) => ({ argv: ['probe', ...(req.via === 'argv' ? [req.prompt] : [])] }),
    parse: (out) => ({ text: out.stdout, raw: null }),
    ...extra,
  })

const outcome = (o: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode: 0,
  stdout: '',
  stderr: '',
  timedOut: false,
  durationMs: 1200,
  ...o,
})

/** The error `fn` throws, as callers see it. */
const fault = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    return err as { code?: string; status?: number; message: string }
  }
  throw new Error('did not throw')
}

describe('createContext: the setting readers', () => {
  it("reads the worker's env first, then the spawner's; empty is unset", () => {
    const c = ctx({ A: 'config', B: '' }, { A: 'host', B: 'host', C: 'host' })
    expect([c.setting('A'), c.setting('B'), c.setting('C'), c.setting('D')]).toEqual([
      'config',
      'host',
      'host',
      undefined,
    ])
  })

  it('never reads what an env object inherits', () => {
    expect(ctx().setting('constructor')).toBeUndefined()
    expect(ctx().setting('__proto__')).toBeUndefined()
  })

  it('choice: the first when unset, the value when allowed, else an error naming both', () => {
    const allowed = ['a', 'b'] as const
    expect(ctx().choice('MODE', allowed)).toBe('a')
    expect(ctx({}, { MODE: 'b' }).choice('MODE', allowed)).toBe('b')
    expect(() => ctx({ MODE: 'toString' }).choice('MODE', allowed)).toThrow(
      "MODE must be one of a, b, not 'toString'",
    )
  })
})

describe('hook results are validated at the call', () => {
  it('env: a bad name or value is refused, naming the plugin and the hook, never the value', () => {
    for (const bad of [{ 'NOT A NAME': SECRET }, { KEY: 42, OTHER: SECRET }, SECRET, [SECRET]]) {
      const plugin = agent({ env: () => bad as never })
      const e = fault(() => pluginEnv(plugin, ctx()))
      expect(e).toMatchObject({ code: 'plugin_error', kind: 'bad_request' })
      expect(e.message).toMatch(/^plugin 'probe' env\(\): returned an invalid result \(/)
      expect(e.message).not.toContain(SECRET)
    }
  })

  it('env: undefined values are left out; a hook that throws is named with its message', () => {
    const plugin = agent({ env: (c) => ({ SET: 'x', UNSET: c.setting('NOPE') }) })
    expect(pluginEnv(plugin, ctx())).toEqual({ SET: 'x' })
    expect(Object.keys(pluginEnv(plugin, ctx()))).toEqual(['SET'])
    const throws = agent({
      env: () => {
        throw new Error('FOO must be set')
      },
    })
    expect(fault(() => pluginEnv(throws, ctx())).message).toBe(
      "plugin 'probe' env(): FOO must be set",
    )
  })

  it('buildContainerSpec refuses an env hook that returns what no program can get', () => {
    const config = workerConfigSchema.parse({ agent: 'probe' })
    const plugin = agent({ env: () => ({ 'BAD=NAME': SECRET }) })
    const e = fault(() =>
      buildContainerSpec(config, [plugin], {
        workerId: 'w1',
        image: 'i',
        hostEnv: {},
        now: new Date(),
      }),
    )
    expect(e).toMatchObject({ code: 'plugin_error', kind: 'bad_request' })
    expect(e.message).toMatch(/plugin 'probe' env\(\)/)
    expect(e.message).not.toContain(SECRET)
  })

  it('files: objects are written as JSON, undefined files are skipped, text is kept as is', () => {
    const plugin = agent({
      files: () => ({
        '~/a.json': { b: [1, 'two'] },
        '~/none': undefined,
        '/etc/x.toml': 'k = 1\n',
      }),
    })
    expect(pluginFileContents(plugin, ctx())).toEqual({
      '~/a.json': '{\n  "b": [\n    1,\n    "two"\n  ]\n}\n',
      '/etc/x.toml': 'k = 1\n',
    })
  })

  it('files: bad content or a bad path is refused naming the plugin and the hook', () => {
    const notContent = agent({ files: () => ({ '~/a': 5 }) as never })
    const e = fault(() => pluginFileContents(notContent, ctx()))
    expect(e.message).toMatch(/^plugin 'probe' files\(\): returned an invalid result \(~\/a: /)
    const circular: Record<string, unknown> = { key: SECRET }
    circular.self = circular
    const cyclic = agent({ files: () => ({ '~/c.json': circular }) })
    expect(fault(() => pluginFileContents(cyclic, ctx())).message).toMatch(
      /'~\/c.json' is not JSON/,
    )
    const escape = agent({ files: () => ({ '~/../../etc/passwd': 'x' }) })
    expect(fault(() => pluginFiles([escape], ctx())).message).toMatch(/^plugin 'probe' files\(\):/)
  })

  it('prompt: a command without argv, or with odd parts, is refused naming the hook', () => {
    for (const bad of [{ argv: [] }, { argv: ['x', 1] }, { argv: ['x'], extra: 1 }, null]) {
      const plugin = agent({ prompt: () => bad as never })
      const req = { prompt: SECRET, workdir: '/w', env: {}, stream: false }
      const e = fault(() => agentPrompt(plugin, req))
      expect(e.message).toMatch(/^plugin 'probe' prompt\(\): returned an invalid result/)
      expect(e.message).not.toContain(SECRET)
    }
  })

  it('parse: a malformed reply is refused naming the hook, without echoing the output', () => {
    const plugin = agent({ parse: () => ({ text: 5, raw: SECRET }) as never })
    const e = fault(() => agentReply(plugin, outcome({ stdout: SECRET })))
    expect(e.message).toMatch(/^plugin 'probe' parse\(\): returned an invalid result \(text: /)
    expect(e.message).not.toContain(SECRET)
    const odd = agent({ parse: () => ({ noResult: true, detail: 3 }) as never })
    expect(fault(() => agentReply(odd, outcome())).message).toMatch(/parse\(\).*detail/)
  })

  it('parse: an Error it throws (the CLI reported a failure) passes through as it is', () => {
    const plugin = agent({
      parse: () => {
        throw new Error('cli said: quota exceeded')
      },
    })
    expect(() => agentReply(plugin, outcome())).toThrow(/^cli said: quota exceeded$/)
  })

  it('parse: an empty session id or absent usage is left out of the reply', () => {
    const plugin = agent({ parse: () => ({ text: 'ok', sessionId: '', usage: undefined, raw: 1 }) })
    expect(agentReply(plugin, outcome())).toStrictEqual({ text: 'ok', raw: 1 })
  })
})

describe('prompt delivery', () => {
  const req = (prompt: string) => ({ prompt, workdir: '/w', env: {}, stream: false })
  const at = MAX_ARGV_PROMPT_BYTES

  it('argv by default: the prompt is an argument and nothing goes to stdin', () => {
    const cmd = agentPrompt(agent(), req('x'.repeat(at + 1)))
    expect(cmd.argv[1]).toHaveLength(at + 1)
    expect(cmd.stdin).toBeUndefined()
  })

  it('stdin: the core writes the prompt to stdin; the plugin leaves it out of argv', () => {
    const cmd = agentPrompt(agent({ promptVia: 'stdin' }), req('-h "q"'))
    expect(cmd).toEqual({ argv: ['probe'], stdin: '-h "q"' })
  })

  it('auto: argv up to MAX_ARGV_PROMPT_BYTES bytes (UTF-8), stdin above', () => {
    const auto = agent({ promptVia: 'auto' })
    expect(agentPrompt(auto, req('x'.repeat(at))).stdin).toBeUndefined()
    expect(agentPrompt(auto, req('x'.repeat(at + 1))).argv).toEqual(['probe'])
    // 50,001 two-byte characters: fewer characters than the limit, more bytes.
    expect(agentPrompt(auto, req('é'.repeat(at / 2 + 1))).stdin).toHaveLength(at / 2 + 1)
  })

  it('a plugin that feeds stdin itself keeps its own', () => {
    const own = agent({ promptVia: 'stdin', prompt: () => ({ argv: ['probe'], stdin: 'framed' }) })
    expect(agentPrompt(own, req('p')).stdin).toBe('framed')
  })
})

describe('noResult: the core writes why a run gave no result', () => {
  const plugin = agent({
    cli: { npm: 'probe-cli@1.0.0', bin: 'probe' },
    noise: /^Warning: /,
    parse: (out) => (out.stdout.includes('ok') ? { text: 'ok', raw: null } : noResult()),
  })

  it('a timeout, with the detail the plugin gives', () => {
    expect(() => agentReply(plugin, outcome({ timedOut: true, exitCode: 137 }))).toThrow(
      /^probe timed out after 1200 ms without a result$/,
    )
    expect(noResultMessage('probe', outcome({ timedOut: true }), 'reconnecting')).toBe(
      'probe timed out after 1200 ms without a result: reconnecting',
    )
  })

  it("an exit: the CLI's stderr without colour codes, stack frames or the plugin's noise", () => {
    const stderr =
      '\u001b[91mError:\u001b[0m session not found\n    at main (cli.js:1:1)\nWarning: old\n'
    expect(() => agentReply(plugin, outcome({ exitCode: 1, stderr }))).toThrow(
      /^probe exited 1 without a result: Error: session not found$/,
    )
  })

  it('then stdout, then "no output"; a detail wins over both; long output keeps its end', () => {
    expect(noResultMessage('p', outcome({ exitCode: 2, stdout: 'partial' }))).toBe(
      'p exited 2 without a result: partial',
    )
    expect(noResultMessage('p', outcome({ exitCode: 2 }))).toBe(
      'p exited 2 without a result: no output',
    )
    expect(noResultMessage('p', outcome({ stderr: 'x' }), 'own')).toBe(
      'p exited 0 without a result: own',
    )
    const long = noResultMessage('p', outcome({ stderr: `${'a'.repeat(600)}END` }))
    expect(long).toMatch(/: …a+END$/)
    expect(long.length).toBeLessThan(560)
  })

  it('names the plugin when it declares no CLI', () => {
    const bare = agent({ parse: () => noResult() })
    expect(() => agentReply(bare, outcome({ exitCode: 3 }))).toThrow(
      /^probe exited 3 without a result/,
    )
  })
})

describe('declarative CLI install', () => {
  it('appends the npm packages and a generated version check after the install steps', () => {
    const cap = defineCapability({
      apiVersion: 'v1',
      name: 'c',
      version: '1',
      description: 'c',
      install: [{ apt: ['ripgrep'] }],
      cli: { npm: 'tool@1.2.3', bin: 'tool' },
    })
    expect(pluginInstallSteps(cap)).toEqual([
      { apt: ['ripgrep'] },
      { npm: ['tool@1.2.3'] },
      { run: 'tool --version' },
    ])
    expect(pluginInstallSteps({ cli: { npm: ['a@1', 'b@2'], bin: 'b' } })).toEqual([
      { npm: ['a@1', 'b@2'] },
      { run: 'b --version' },
    ])
    expect(pluginInstallSteps({})).toEqual([])
  })
})
