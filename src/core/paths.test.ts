import { describe, expect, it } from 'vitest'
import { resolveFilePath } from './paths.ts'

const roots = ['/workspace', '/tmp']

describe('resolveFilePath', () => {
  it('normalises paths under the roots', () => {
    expect(resolveFilePath('/workspace/a/./b//c.txt', roots)).toBe('/workspace/a/b/c.txt')
    expect(resolveFilePath('/workspace/a/../b.txt', roots)).toBe('/workspace/b.txt')
    expect(resolveFilePath('/tmp/x', roots)).toBe('/tmp/x')
  })

  it.each([
    'relative.txt',
    '/workspace/../etc/passwd',
    '/etc/passwd',
    '/workspace',
    '/workspacex/a',
    '/../tmp/a',
    '/tmp/a\0b',
  ])('refuses %j', (p) => {
    expect(() => resolveFilePath(p, roots)).toThrow(/path/)
  })
})

describe('resolveFilePath limits', () => {
  it('refuses a name longer than a filesystem takes (255 bytes), before Docker sees it', () => {
    expect(resolveFilePath(`/workspace/${'p'.repeat(255)}`, roots)).toBe(
      `/workspace/${'p'.repeat(255)}`,
    )
    expect(() => resolveFilePath(`/workspace/${'p'.repeat(256)}`, roots)).toThrow(/255 bytes/)
    // Bytes, not characters: 128 two-byte letters are 256 bytes.
    expect(() => resolveFilePath(`/workspace/${'é'.repeat(128)}/a`, roots)).toThrow(/255 bytes/)
  })

  it('refuses a lone surrogate, which no file name can hold', () => {
    expect(() => resolveFilePath('/workspace/a\ud800', roots)).toThrow(/not well-formed Unicode/)
    expect(resolveFilePath('/workspace/\ud83d\ude00', roots)).toBe('/workspace/😀')
  })

  it('refuses a path longer than 4096 bytes', () => {
    const long = `/workspace/${'a/'.repeat(2100)}b`
    expect(() => resolveFilePath(long, roots)).toThrow(/4096 bytes/)
  })
})
