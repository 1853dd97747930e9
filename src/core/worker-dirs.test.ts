import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { TokenSigner } from './auth/jwt.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'
import type { ExecRequest } from './runtime.ts'
import { LIST_EXIT, listDirCommand, parseListing, resolveDirPath } from './worker-dirs.ts'

/** Runs an argv here, as the listing would run in a container (the same GNU tools). */
const run = (req: ExecRequest) => {
  const [cmd, ...args] = req.argv
  const r = spawnSync(cmd!, args, { encoding: 'utf8', env: req.env ?? {} })
  return {
    exitCode: r.status ?? 1,
    stdout: r.stdout,
    stderr: r.stderr,
    timedOut: false,
    durationMs: 1,
  }
}

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A root with a few entries, and a directory outside it with a secret. */
const tree = () => {
  const base = mkdtempSync(join(tmpdir(), 'ws-ls-'))
  dirs.push(base)
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  mkdirSync(join(root, 'sub'), { recursive: true })
  mkdirSync(outside)
  writeFileSync(join(root, 'a.txt'), 'hello')
  writeFileSync(join(root, 'name with\nnewline'), '')
  writeFileSync(join(outside, 'secret'), 'x')
  symlinkSync(outside, join(root, 'out'))
  symlinkSync(join(root, 'sub'), join(root, 'in'))
  symlinkSync(join(root, 'nowhere'), join(root, 'broken'))
  return { root, outside }
}

const list = (path: string, roots: string[], max = 100) => {
  const r = run({ argv: listDirCommand(path, max, roots) })
  return { ...r, ...parseListing(r.stdout, max) }
}

describe('the listing script', () => {
  it('lists a root itself: names, types, sizes, link targets; directories first', () => {
    const { root, outside } = tree()
    const r = list(root, [root])
    expect(r.exitCode).toBe(0)
    expect(r.truncated).toBe(false)
    expect(r.entries.map((e) => e.name)).toEqual([
      'in',
      'out',
      'sub',
      'a.txt',
      'broken',
      'name with\nnewline',
    ])
    const by = Object.fromEntries(r.entries.map((e) => [e.name, e]))
    expect(by['a.txt']).toMatchObject({ type: 'file', size: 5, mode: '0644' })
    expect(by['sub']).toMatchObject({ type: 'dir' })
    expect(by['out']).toMatchObject({ type: 'symlink', target: outside, targetType: 'dir' })
    expect(by['broken']).toMatchObject({ type: 'symlink', targetType: 'missing' })
    expect(Date.parse(by['a.txt']!.mtime)).toBeGreaterThan(Date.now() - 600_000)
  })

  it('refuses a path outside the roots, and a link that leads out of them', () => {
    const { root, outside } = tree()
    expect(list(outside, [root]).exitCode).toBe(LIST_EXIT.notAllowed)
    expect(list(join(root, 'out'), [root]).exitCode).toBe(LIST_EXIT.notAllowed)
    expect(list(join(root, 'out'), [root]).stdout).toBe('')
    expect(list(join(root, 'in'), [root]).exitCode).toBe(0)
  })

  it('tells a missing path and a file from a directory', () => {
    const { root } = tree()
    expect(list(join(root, 'nope'), [root]).exitCode).toBe(LIST_EXIT.notFound)
    expect(list(join(root, 'a.txt'), [root]).exitCode).toBe(LIST_EXIT.notDir)
  })

  it('stops a huge directory at the cap and says so', () => {
    const { root } = tree()
    const big = join(root, 'big')
    mkdirSync(big)
    for (let i = 0; i < 5000; i++) writeFileSync(join(big, `f${i}`), '')
    const r = list(big, [root], 100)
    expect(r.exitCode).toBe(0)
    expect(r.entries).toHaveLength(100)
    expect(r.truncated).toBe(true)
    // At the cap exactly, nothing is missing.
    const all = list(big, [root], 5000)
    expect(all.entries).toHaveLength(5000)
    expect(all.truncated).toBe(false)
  })
})

describe('parseListing', () => {
  it('marks output cut short as truncated and drops the half record', () => {
    const one = 'f f 5 1700000000.5 644 a\0\0'
    expect(parseListing(one, 10)).toMatchObject({ truncated: false, entries: [{ name: 'a' }] })
    expect(parseListing(one + 'f f 1 1 644 b\0', 10)).toMatchObject({
      truncated: true,
      entries: [{ name: 'a' }],
    })
    expect(parseListing(one + 'f f 1 1 6', 10).truncated).toBe(true)
    expect(parseListing('', 10)).toEqual({ entries: [], truncated: false })
  })
})

describe('resolveDirPath', () => {
  const roots = ['/workspace', '/tmp']
  it('takes a root itself, and what lies under one; refuses the rest', () => {
    expect(resolveDirPath('/workspace/', roots)).toBe('/workspace')
    expect(resolveDirPath('/tmp/a/../b', roots)).toBe('/tmp/b')
    expect(resolveDirPath('/workspace/.', roots)).toBe('/workspace')
    expect(resolveDirPath('/workspace/src/..', roots)).toBe('/workspace')
    expect(resolveDirPath('//tmp//', roots)).toBe('/tmp')
    expect(() => resolveDirPath('/etc', roots)).toThrow(/outside the allowed roots/)
    expect(() => resolveDirPath('/workspace/..', roots)).toThrow(/outside the allowed roots/)
    expect(() => resolveDirPath('/', roots)).toThrow(/outside the allowed roots/)
  })
})

describe('list_files through the service', () => {
  const agent = defineAgent({
    apiVersion: 'v1',
    name: 'echo',
    version: '1.0.0',
    description: 'test agent',
    prompt: (req) => ({ argv: ['echo', req.prompt] }),
    parse: (result) => ({ text: result.stdout, raw: {} }),
  })

  const setup = async () => {
    const runtime = new MemoryRuntime()
    runtime.images.set('base', 'sha256:base')
    const registry = PluginRegistry.fromModules([{ name: 'echo', module: { default: agent } }])
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base',
      hostEnv: {},
      tokens: { signer: new TokenSigner('x'.repeat(32)), url: 'http://127.0.0.1:9' },
    })
    const { workerId } = await service.create({ config: service.parseConfig({ agent: 'echo' }) })
    const execs: ExecRequest[] = []
    runtime.onExec = async (_id, req) => (execs.push(req), run(req))
    return { service, workerId, execs }
  }

  it("runs the listing with the worker's roots and maps its refusals to errors", async () => {
    const { service, workerId, execs } = await setup()
    // /tmp is one of every worker's roots, here as in a container.
    const root = mkdtempSync('/tmp/ws-ls-')
    dirs.push(root)
    writeFileSync(join(root, 'a.txt'), 'hello')
    writeFileSync(join(root, 'b.txt'), 'hello')
    writeFileSync(join(root, 'c.txt'), 'hello')
    symlinkSync('/etc', join(root, 'out'))
    const listing = await service.listFiles({ workerId, path: root, limit: 2 })
    expect(listing).toMatchObject({ path: root, truncated: true })
    expect(listing.entries).toHaveLength(2)
    expect(execs.at(-1)!.argv.slice(-3)).toEqual(['/workspace', '/tmp', '/home/worker'])
    await expect(
      service.listFiles({ workerId, path: join(root, 'out'), limit: 10 }),
    ).rejects.toMatchObject({ code: 'path_not_allowed' })
    await expect(
      service.listFiles({ workerId, path: join(root, 'nope'), limit: 10 }),
    ).rejects.toMatchObject({ code: 'not_found' })
    await expect(
      service.listFiles({ workerId, path: join(root, 'a.txt'), limit: 10 }),
    ).rejects.toMatchObject({ code: 'bad_request' })
  })

  it('refuses a path outside the roots before running anything', async () => {
    const { service, workerId, execs } = await setup()
    await expect(service.listFiles({ workerId, path: '/etc', limit: 10 })).rejects.toMatchObject({
      code: 'path_not_allowed',
    })
    expect(execs).toHaveLength(0)
  })
})
