import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { noopLogger } from '../core/logger.ts'
import { PluginHost, loadPlugins } from './plugin-loader.ts'

const contract = new URL('../core/plugin/contract.ts', import.meta.url).pathname

const writePlugin = (dir: string, name: string, version: string, body = '') => {
  mkdirSync(join(dir, name), { recursive: true })
  writeFileSync(
    join(dir, name, 'index.ts'),
    `import { defineCapability } from '${contract}'\n` +
      `export default defineCapability({ apiVersion: 'v1', name: '${name}', version: '${version}', description: 'd'${body} })\n`,
  )
}

describe('plugin loader', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ws-plugins-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('loads the project plugins with no errors', async () => {
    const registry = await loadPlugins(new URL('../../plugins', import.meta.url).pathname)
    expect(registry.errors).toEqual([])
    expect(registry.list().map((p) => p.name)).toEqual(
      expect.arrayContaining(['curl', 'docker', 'git', 'node', 'python', 'shell']),
    )
  })

  it('sees added, changed and removed plugins on reload, and swaps the registry whole', async () => {
    writePlugin(dir, 'alpha', '1.0.0')
    writeFileSync(join(dir, 'README.md'), 'not a plugin')
    const host = new PluginHost(dir, noopLogger)
    const first = await host.reload()
    expect(first.list().map((p) => `${p.name}@${p.version}`)).toEqual(['alpha@1.0.0'])

    writePlugin(dir, 'alpha', '1.1.0')
    writePlugin(dir, 'beta', '1.0.0')
    mkdirSync(join(dir, 'broken'))
    writeFileSync(join(dir, 'broken', 'index.ts'), 'export default {')
    const second = await host.reload()
    expect(second.list().map((p) => `${p.name}@${p.version}`)).toEqual([
      'alpha@1.1.0',
      'beta@1.0.0',
    ])
    expect(second.errors.map((e) => e.plugin)).toEqual(['broken'])
    // The old snapshot is untouched: whoever holds it keeps a consistent view.
    expect(first.list().map((p) => p.version)).toEqual(['1.0.0'])
    expect(host.current).toBe(second)

    rmSync(join(dir, 'beta'), { recursive: true })
    const third = await host.reload()
    expect(third.get('beta')).toBeUndefined()
    expect(third.get('alpha')).toBeDefined()
  })

  it('reloads by itself when the folder changes', async () => {
    writePlugin(dir, 'alpha', '1.0.0')
    const host = new PluginHost(dir, noopLogger)
    await host.reload()
    host.watch(50)
    try {
      writePlugin(dir, 'gamma', '1.0.0')
      await expect.poll(() => host.current.get('gamma')?.version, { timeout: 5000 }).toBe('1.0.0')
    } finally {
      host.close()
    }
  })
})

/** Writes an installed package into `nodeModules` whose entry default-exports a capability plugin. */
const writePackage = (
  nodeModules: string,
  pkg: string,
  opts: {
    plugin?: string
    version?: string
    manifest?: object
    entry?: string
    body?: string
  } = {},
) => {
  const dir = join(nodeModules, pkg)
  const entry = opts.entry ?? 'index.js'
  mkdirSync(dirname(join(dir, entry)), { recursive: true })
  const version = opts.version ?? '1.0.0'
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: pkg, version, type: 'module', ...(opts.manifest ?? { main: entry }) }),
  )
  const plugin = opts.plugin ?? pkg.replace(/^@[^/]+\//, '').replace(/^workers-spawner-plugin-/, '')
  writeFileSync(
    join(dir, entry),
    opts.body ??
      `export default { apiVersion: 'v1', kind: 'capability', name: '${plugin}', version: '${version}', description: 'from ${pkg}' }\n`,
  )
  return dir
}

describe('plugin packages', () => {
  let root: string
  let plugins: string
  let nodeModules: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ws-packages-'))
    plugins = join(root, 'plugins')
    nodeModules = join(root, 'node_modules')
    mkdirSync(plugins)
    mkdirSync(nodeModules)
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('loads workers-spawner-plugin-* packages, scoped ones and listed ones, with their package', async () => {
    writePackage(nodeModules, 'workers-spawner-plugin-jq', { version: '2.1.0' })
    writePackage(nodeModules, '@acme/workers-spawner-plugin-aider', {
      manifest: { exports: { '.': { types: './x.d.ts', import: './dist/index.js' } } },
      entry: 'dist/index.js',
    })
    writePackage(nodeModules, 'acme-tools')
    writePackage(nodeModules, 'left-pad', { body: 'throw new Error("never imported")' })
    writePlugin(plugins, 'alpha', '1.0.0')

    const registry = await loadPlugins(plugins, { nodeModules, names: ['acme-tools'] })
    expect(registry.errors).toEqual([])
    expect(registry.list().map((p) => [p.name, p.version, p.package])).toEqual([
      ['acme-tools', '1.0.0', { name: 'acme-tools', version: '1.0.0' }],
      ['aider', '1.0.0', { name: '@acme/workers-spawner-plugin-aider', version: '1.0.0' }],
      ['alpha', '1.0.0', undefined],
      ['jq', '2.1.0', { name: 'workers-spawner-plugin-jq', version: '2.1.0' }],
    ])
    // Without a package source, only folders load (the tests' and the bench's registries).
    expect((await loadPlugins(plugins)).list().map((p) => p.name)).toEqual(['alpha'])
  })

  it('prefers a folder over a package of the same name and says so; refuses two packages of one name', async () => {
    writePlugin(plugins, 'alpha', '1.0.0')
    writePackage(nodeModules, 'workers-spawner-plugin-alpha', { version: '9.0.0' })
    writePackage(nodeModules, 'workers-spawner-plugin-beta')
    writePackage(nodeModules, '@acme/workers-spawner-plugin-beta')

    const registry = await loadPlugins(plugins, { nodeModules })
    expect(registry.list().map((p) => `${p.name}@${p.version}`)).toEqual(['alpha@1.0.0'])
    expect(registry.errors).toContainEqual({
      plugin: 'alpha',
      field: 'name',
      reason: `the folder ${join(plugins, 'alpha')} provides plugin 'alpha'; the package workers-spawner-plugin-alpha@9.0.0 is not loaded`,
      package: { name: 'workers-spawner-plugin-alpha', version: '9.0.0' },
    })
    const beta = registry.errors.filter((e) => e.plugin === 'beta')
    expect(beta.map((e) => e.package?.name)).toEqual([
      '@acme/workers-spawner-plugin-beta',
      'workers-spawner-plugin-beta',
    ])
    expect(beta[0]!.reason).toContain('none is loaded until one is removed')
  })

  it('reports broken packages like broken folders, naming the package', async () => {
    writePackage(nodeModules, 'workers-spawner-plugin-wrong', { plugin: 'other' })
    writePackage(nodeModules, 'workers-spawner-plugin-syntax', { body: 'export default {' })
    writePackage(nodeModules, 'workers-spawner-plugin-escape', {
      manifest: { main: '../../etc/passwd' },
    })
    mkdirSync(join(nodeModules, 'workers-spawner-plugin-nojson'))
    writeFileSync(join(nodeModules, 'workers-spawner-plugin-nojson', 'package.json'), '{')

    const registry = await loadPlugins(plugins, {
      nodeModules,
      names: ['not-installed', '@acme/gone'],
    })
    expect(registry.list()).toEqual([])
    const byPlugin = Object.fromEntries(registry.errors.map((e) => [e.plugin, e]))
    expect(byPlugin.wrong).toEqual({
      plugin: 'wrong',
      field: 'name',
      reason:
        "is 'other' but the package 'workers-spawner-plugin-wrong' names 'wrong'; they must match",
      package: { name: 'workers-spawner-plugin-wrong', version: '1.0.0' },
    })
    expect(byPlugin.syntax).toMatchObject({
      field: 'index.js',
      reason: expect.stringContaining('failed to import'),
    })
    expect(byPlugin.escape).toMatchObject({
      field: 'package.json',
      reason: expect.stringContaining('leaves the package'),
    })
    expect(byPlugin.nojson).toMatchObject({
      field: 'package.json',
      reason: expect.stringContaining('not JSON'),
    })
    expect(byPlugin['not-installed']).toEqual({
      plugin: 'not-installed',
      field: 'PLUGIN_PACKAGES',
      reason: `package 'not-installed' is not installed in ${nodeModules}`,
    })
    expect(byPlugin.gone?.reason).toBe(`package '@acme/gone' is not installed in ${nodeModules}`)
  })

  it('picks up packages installed, updated and removed while it runs', async () => {
    const host = new PluginHost(plugins, noopLogger, { nodeModules, names: ['acme-tools'] })
    await host.reload()
    host.watch(50)
    try {
      writePackage(nodeModules, 'workers-spawner-plugin-jq', { version: '1.0.0' })
      await expect.poll(() => host.current.get('jq')?.version, { timeout: 5000 }).toBe('1.0.0')
      // An update rewrites the package's own files (npm may also replace its folder).
      writePackage(nodeModules, 'workers-spawner-plugin-jq', { version: '1.1.0' })
      await expect
        .poll(() => host.current.list().find((p) => p.name === 'jq')?.package?.version, {
          timeout: 5000,
        })
        .toBe('1.1.0')
      rmSync(join(nodeModules, 'workers-spawner-plugin-jq'), { recursive: true })
      writePackage(nodeModules, 'workers-spawner-plugin-jq', { version: '1.2.0' })
      await expect.poll(() => host.current.get('jq')?.version, { timeout: 5000 }).toBe('1.2.0')
      // A scope folder that appears later, and a listed package installed later.
      writePackage(nodeModules, '@acme/workers-spawner-plugin-aider')
      writePackage(nodeModules, 'acme-tools')
      await expect
        .poll(() => host.current.list().map((p) => p.name), { timeout: 5000 })
        .toEqual(['acme-tools', 'aider', 'jq'])
      rmSync(join(nodeModules, 'workers-spawner-plugin-jq'), { recursive: true })
      await expect.poll(() => host.current.get('jq'), { timeout: 5000 }).toBeUndefined()
    } finally {
      host.close()
    }
  })

  it('sees a node_modules folder created after the start', async () => {
    rmSync(nodeModules, { recursive: true })
    const host = new PluginHost(plugins, noopLogger, { nodeModules })
    await host.reload()
    host.watch(50)
    try {
      mkdirSync(nodeModules)
      writePackage(nodeModules, 'workers-spawner-plugin-jq')
      await expect.poll(() => host.current.get('jq')?.version, { timeout: 5000 }).toBe('1.0.0')
    } finally {
      host.close()
    }
  })
})
