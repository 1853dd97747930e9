import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../test/support/memory-runtime.ts'
import { catalog } from './core/catalog.ts'
import { commandTable } from './core/commands.ts'
import { PluginRegistry } from './core/plugin/registry.ts'
import { WorkerService } from './core/service.ts'
import { createApp } from './http/app.ts'

const SRC = fileURLToPath(new URL('.', import.meta.url))
const ADAPTERS = ['http', 'redis', 'cli']
const names = Object.keys(commandTable)

/** The adapters' source files, tests apart. */
const sources = () =>
  ADAPTERS.flatMap((dir) =>
    readdirSync(join(SRC, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(join(SRC, dir, f), 'utf8') })),
  )

describe('the adapters are built from the command table', () => {
  it('the catalog implements every command of the table, and only those', () => {
    expect(catalog.map((c) => c.name).sort()).toEqual([...names].sort())
  })

  it('no adapter branches on a command name', () => {
    const quoted = `['"\`](?:${names.join('|')})['"\`]`
    const branches = [
      // x === 'name', 'name' !== x, case 'name':
      new RegExp(`(?<left>[\\w.\\]\\)]+)\\s*[!=]==?\\s*${quoted}`, 'g'),
      new RegExp(`${quoted}\\s*[!=]==?`, 'g'),
      new RegExp(`case\\s+${quoted}`, 'g'),
      // a command's name compared with anything
      /\b(?:cmd|command)\.name\s*[!=]==?|[!=]==?\s*(?:cmd|command)\.name\b/g,
    ]
    const found = sources().flatMap(({ file, text }) =>
      branches.flatMap((re) =>
        [...text.matchAll(re)]
          // Event types share a word with a command ('status'); they are not commands.
          .filter((m) => !m.groups?.left?.endsWith('.type'))
          .map((m) => `${file}: ${m[0]}`),
      ),
    )
    expect(found).toEqual([])
  })

  it('serves one route per command, from its HTTP binding, and nothing else under /v1 but whoami, events, the terminal and previews', () => {
    const service = new WorkerService({
      runtime: new MemoryRuntime(),
      plugins: () => PluginRegistry.fromModules([]),
      baseImage: 'img',
      hostEnv: {},
    })
    const app = createApp({ service })
    const served = new Set(
      app.routes
        .filter((r) => r.path.startsWith('/v1/') && r.method !== 'ALL')
        .map((r) => `${r.method} ${r.path}`),
    )
    const declared = catalog.map((c) => `${c.http.method.toUpperCase()} ${c.http.path}`)
    const outside = ['GET /v1/whoami', 'GET /v1/events', 'GET /v1/workers/:id/terminal']
    // Previews forward any method (ALL, left out above) and list ports and make links.
    const previews = ['GET /v1/workers/:id/ports', 'POST /v1/workers/:id/preview-links']
    expect([...served].sort()).toEqual([...declared, ...outside, ...previews].sort())
  })
})
