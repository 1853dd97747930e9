import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
    expect(second.list().map((p) => `${p.name}@${p.version}`)).toEqual(['alpha@1.1.0', 'beta@1.0.0'])
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
