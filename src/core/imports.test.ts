import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const CORE = dirname(fileURLToPath(import.meta.url))

/** Every non-test source file of the core, relative to it. */
const sources = (dir = CORE): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [relative(CORE, path)] : []
  })

/** What a file imports, type-only imports and re-exports included (both tie modules together). */
const importsOf = (file: string): string[] =>
  ts
    .preProcessFile(readFileSync(join(CORE, file), 'utf8'), true, true)
    .importedFiles.map((f) => f.fileName)

const graph = () => {
  const files = sources()
  const edges = new Map<string, string[]>()
  const outside: { file: string; specifier: string }[] = []
  for (const file of files) {
    const local: string[] = []
    for (const specifier of importsOf(file)) {
      if (!specifier.startsWith('.')) {
        outside.push({ file, specifier })
        continue
      }
      const target = relative(CORE, resolve(CORE, dirname(file), specifier))
      // Only the core's own graph: files above it (generated plugins) are not part of it.
      if (!target.startsWith('..')) local.push(target)
    }
    edges.set(file, local)
  }
  return { files, edges, outside }
}

/** The import cycles of `edges`, each as the path that closes it. */
const cycles = (edges: Map<string, string[]>): string[][] => {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of edges.keys()) if (!state.has(file)) visit(file)
  return found
}

describe('the import graph of src/core', () => {
  it('finds the files it checks', () => {
    const { files, edges } = graph()
    expect(files).toContain('service.ts')
    expect(edges.get('service.ts')!.length).toBeGreaterThan(0)
  })

  it('has no cycle', () => {
    expect(cycles(graph().edges).map((c) => c.join(' → '))).toEqual([])
  })

  it('imports no node:*, dockerode or ioredis', () => {
    const banned = graph().outside.filter(({ specifier }) =>
      /^(node:|dockerode$|ioredis$)/.test(specifier),
    )
    expect(banned).toEqual([])
  })

  it('tells a cycle when there is one', () => {
    const edges = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ])
    expect(cycles(edges)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']])
  })
})
