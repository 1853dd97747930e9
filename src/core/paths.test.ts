import { describe, expect, it } from 'vitest'
import { resolveFilePath } from './paths.ts'

const roots = ['/workspace', '/tmp']

describe('resolveFilePath', () => {
  it('normalises paths under the roots', () => {
    expect(resolveFilePath('/workspace/a/./b//c.txt', roots)).toBe('/workspace/a/b/c.txt')
    expect(resolveFilePath('/workspace/a/../b.txt', roots)).toBe('/workspace/b.txt')
    expect(resolveFilePath('/tmp/x', roots)).toBe('/tmp/x')
  })

  it.each(['relative.txt', '/workspace/../etc/passwd', '/etc/passwd', '/workspace', '/workspacex/a', '/../tmp/a', '/tmp/a\0b'])(
    'refuses %j',
    (p) => {
      expect(() => resolveFilePath(p, roots)).toThrow(/path/)
    },
  )
})
