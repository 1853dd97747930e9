import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scaffoldPlugin } from '../../scripts/plugin-new.ts'
import { agentPrompt, agentReply, type AgentPlugin } from '../core/plugin/contract.ts'
import { loadPlugins } from './plugin-loader.ts'

const repo = new URL('../..', import.meta.url).pathname

describe('npm run plugin:new', () => {
  let dir: string
  beforeEach(() => {
    // A plugins folder outside the checkout, where `workers-spawner/plugin` resolves to it.
    dir = mkdtempSync(join(tmpdir(), 'ws-plugin-new-'))
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(repo, join(dir, 'node_modules', 'workers-spawner'), 'dir')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('scaffolds an agent plugin on the kit that the registry loads', async () => {
    const written = scaffoldPlugin('my-cli', dir)
    expect(written.map((f) => f.slice(dir.length))).toEqual([
      '/my-cli/index.ts',
      '/my-cli/README.md',
      '/my-cli/index.test.ts',
    ])
    const registry = await loadPlugins(dir)
    expect(registry.errors).toEqual([])
    expect(registry.list()).toEqual([
      expect.objectContaining({
        name: 'my-cli',
        kind: 'agent',
        gateway: { keys: ['MY_CLI_API_KEY'], baseUrl: 'MY_CLI_BASE_URL' },
      }),
    ])
    const plugin = registry.get('my-cli') as AgentPlugin
    expect(plugin.promptVia).toBe('auto')
    const req = { prompt: 'hi', workdir: '/workspace', env: {}, stream: false }
    expect(agentPrompt(plugin, req).argv).toEqual(['my-cli', '--json', '--', 'hi'])
    const out = { exitCode: 0, stderr: '', timedOut: false, durationMs: 5 }
    const stdout = '{"type":"result","text":"12","session_id":"s"}\n'
    expect(agentReply(plugin, { ...out, stdout })).toMatchObject({ text: '12', sessionId: 's' })
    // The README names every setting the plugin reads.
    const readme = readFileSync(join(dir, 'my-cli', 'README.md'), 'utf8')
    for (const setting of ['MY_CLI_API_KEY', 'MY_CLI_BASE_URL', 'MY_CLI_MODEL', 'MY_CLI_LOG_LEVEL'])
      expect(readme).toContain(setting)
  })

  it('refuses a name the contract refuses, and a folder that exists', () => {
    expect(() => scaffoldPlugin('My_CLI', dir)).toThrow(/'My_CLI' is not a plugin name/)
    expect(existsSync(join(dir, 'My_CLI'))).toBe(false)
    scaffoldPlugin('taken', dir)
    expect(() => scaffoldPlugin('taken', dir)).toThrow(/exists/)
  })
})
