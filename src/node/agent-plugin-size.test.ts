import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

/**
 * Lines of code: not blank, not a comment. A line that is only `//…`, or lies inside a `/* … *\/`
 * block (JSDoc), does not count; a template literal's lines do.
 */
const codeLines = (source: string): number => {
  let inComment = false
  let count = 0
  for (const raw of source.split('\n')) {
    let line = raw.trim()
    if (inComment) {
      const end = line.indexOf('*/')
      if (end < 0) continue
      inComment = false
      line = line.slice(end + 2).trim()
    }
    if (line.startsWith('/*')) {
      const end = line.indexOf('*/', 2)
      if (end < 0) {
        inComment = true
        continue
      }
      line = line.slice(end + 2).trim()
    }
    if (line !== '' && !line.startsWith('//')) count++
  }
  return count
}

const AGENTS = ['claude-code', 'codex', 'factory-droid', 'gemini-cli', 'opencode']

describe('agent plugins stay small: the kit carries the plumbing', () => {
  it('counts code lines, not comments or blank lines', () => {
    const source = [
      '/**',
      ' * doc',
      ' */',
      'const a = 1 // why',
      '',
      '// note',
      '/* x */ b()',
      '`',
      '*',
      '`',
    ].join('\n')
    expect(codeLines(source)).toBe(5)
  })

  it.each(AGENTS)('plugins/%s/index.ts has under 60 lines of code', (name) => {
    const source = readFileSync(new URL(`../../plugins/${name}/index.ts`, import.meta.url), 'utf8')
    expect(codeLines(source)).toBeLessThan(60)
  })
})
