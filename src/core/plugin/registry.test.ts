import { describe, expect, it } from 'vitest'
import { defineAgent, defineCapability } from './contract.ts'
import { PluginRegistry } from './registry.ts'

const agent = (name: string, extra: object = {}) => ({
  name,
  module: {
    default: defineAgent({
      apiVersion: 'v1',
      name,
      version: '1.0.0',
      description: `${name} agent`,
      prompt: (req) => ({ argv: ['echo', req.prompt] }),
      parse: (r) => ({ text: r.stdout, raw: r.stdout }),
      ...extra,
    }),
  },
})

const cap = (name: string, extra: object = {}) => ({
  name,
  module: {
    default: defineCapability({
      apiVersion: 'v1',
      name,
      version: '2.0.0',
      description: `${name} cap`,
      ...extra,
    }),
  },
})

describe('PluginRegistry', () => {
  it('loads valid plugins with defaults filled in', () => {
    const r = PluginRegistry.fromModules([
      agent('shell'),
      cap('git', { install: [{ apt: ['git'] }] }),
    ])
    expect(r.errors).toEqual([])
    expect(r.get('shell')?.kind).toBe('agent')
    expect(r.get('git')?.install).toEqual([{ apt: ['git'] }])
    expect(r.get('shell')?.requires).toEqual([])
    expect(r.list().map((p) => p.name)).toEqual(['git', 'shell'])
  })

  it('orders every plugin after what it requires', () => {
    const r = PluginRegistry.fromModules([
      agent('a-agent', { requires: ['z-cap'] }),
      cap('z-cap', { requires: ['m-cap'] }),
      cap('m-cap'),
    ])
    expect(r.errors).toEqual([])
    expect(r.ordered.map((p) => p.name)).toEqual(['m-cap', 'z-cap', 'a-agent'])
  })

  it('reports a broken plugin by name and field while the others load', () => {
    const r = PluginRegistry.fromModules([
      agent('good'),
      {
        name: 'bad',
        module: {
          default: {
            apiVersion: 'v2',
            kind: 'capability',
            name: 'bad',
            version: '1',
            description: 'x',
          },
        },
      },
      {
        name: 'noprompt',
        module: {
          default: {
            apiVersion: 'v1',
            kind: 'agent',
            name: 'noprompt',
            version: '1',
            description: 'x',
            parse: () => 0,
          },
        },
      },
      { name: 'throws', error: new Error('SyntaxError: Unexpected token\n    at stack') },
      { name: 'empty', module: {} },
    ])
    expect(r.get('good')).toBeDefined()
    expect(r.get('bad')).toBeUndefined()
    expect(r.errors).toContainEqual({ plugin: 'bad', field: 'apiVersion', reason: "must be 'v1'" })
    expect(r.errors.find((e) => e.plugin === 'noprompt')?.field).toBe('prompt')
    expect(r.errors).toContainEqual({
      plugin: 'throws',
      field: 'index.ts',
      reason: 'failed to import: SyntaxError: Unexpected token',
    })
    expect(r.errors.find((e) => e.plugin === 'empty')?.field).toBe('default export')
  })

  it('refuses unknown keys, a name that differs from its folder, and bad install steps', () => {
    const r = PluginRegistry.fromModules([
      cap('typo', { instal: [] }),
      { ...cap('other'), name: 'folder' },
      cap('steps', { install: [{ apt: ['ok', 'rm -rf /'] }] }),
    ])
    expect(r.ordered).toEqual([])
    expect(r.errors).toContainEqual({ plugin: 'typo', field: 'instal', reason: 'unknown key' })
    expect(r.errors).toContainEqual(expect.objectContaining({ plugin: 'folder', field: 'name' }))
    expect(r.errors).toContainEqual(
      expect.objectContaining({ plugin: 'steps', field: 'install.0.apt.1' }),
    )
  })

  it('validates the kit declarations: cli, promptVia and noise', () => {
    const r = PluginRegistry.fromModules([
      agent('good-cli', { cli: { npm: ['a@1', 'b@2'], bin: 'b' }, promptVia: 'auto', noise: /^x/ }),
      agent('bad-bin', { cli: { npm: 'a@1', bin: 'a; rm -rf /' } }),
      agent('bad-npm', { cli: { npm: ['--registry=x y'], bin: 'a' } }),
      agent('bad-via', { promptVia: 'file' }),
      agent('bad-noise', { noise: '^x' }),
    ])
    expect(r.ordered.map((p) => p.name)).toEqual(['good-cli'])
    expect(r.get('good-cli')).toMatchObject({ promptVia: 'auto', cli: { bin: 'b' } })
    const fields = Object.fromEntries(r.errors.map((e) => [e.plugin, e.field]))
    expect(fields).toEqual({
      'bad-bin': 'cli.bin',
      'bad-npm': 'cli.npm.0',
      'bad-via': 'promptVia',
      'bad-noise': 'noise',
    })
  })

  it('refuses a plugin whose requirement is missing, refused, or on a cycle', () => {
    const r = PluginRegistry.fromModules([
      cap('needs-ghost', { requires: ['ghost'] }),
      cap('needs-bad', { requires: ['needs-ghost'] }),
      cap('ping', { requires: ['pong'] }),
      cap('pong', { requires: ['ping'] }),
      cap('fine'),
    ])
    expect(r.ordered.map((p) => p.name)).toEqual(['fine'])
    const reasons = Object.fromEntries(r.errors.map((e) => [e.plugin, e.reason]))
    expect(reasons['needs-ghost']).toBe("requires 'ghost', which is not loaded")
    expect(reasons['needs-bad']).toBe("requires 'needs-ghost', which was refused")
    expect(reasons.ping ?? reasons.pong).toMatch(/cycle/)
  })

  it('keeps import failures from stopping the load', async () => {
    const r = await PluginRegistry.load([
      { name: 'ok', load: async () => cap('ok').module },
      {
        name: 'boom',
        load: async () => {
          throw new Error('cannot find module x')
        },
      },
    ])
    expect(r.get('ok')).toBeDefined()
    expect(r.errors).toEqual([
      { plugin: 'boom', field: 'index.ts', reason: 'failed to import: cannot find module x' },
    ])
  })
})
