import { describe, expect, it } from 'vitest'
import { LineSplitter } from './line-splitter.ts'

describe('LineSplitter', () => {
  it('joins lines across chunks, passes over one past the cap, and keeps a last line at the end', () => {
    const lines: string[] = []
    const s = new LineSplitter(8, (l) => lines.push(l))
    s.push('ab')
    s.push('c\nde')
    s.push('fghijklmnop')
    s.push('qr\nshort\nlast')
    s.end()
    expect(lines).toEqual(['abc', 'short', 'last'])
  })
})
