import { describe, expect, it } from 'vitest'
import { SpawnerError } from '../core/errors.ts'
import { fitAnswer, storedBytes, storedHead } from './answer-size.ts'

/** A string's bytes inside a stored result (without the outer quotes of storedBytes). */
const bytes = (s: string) => storedBytes(s) - 2

describe('storedHead', () => {
  it('keeps the longest head that fits once JSON-encoded twice, for every kind of character', () => {
    const alphabet = [
      'a',
      '"',
      '\\',
      '\n',
      '\u0001',
      '\u007f',
      'é',
      '€',
      '😀',
      '\ud800',
      '\udc00',
      '\u2028',
    ]
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let n = 0; n < 300; n++) {
      const s = Array.from(
        { length: 1 + Math.floor(random() * 40) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('')
      const budget = 4 + Math.floor(random() * bytes(s))
      const head = storedHead(s, budget)
      expect(s.startsWith(head)).toBe(true)
      expect(bytes(head)).toBeLessThanOrEqual(budget)
      // One more character (or surrogate pair) would not fit.
      if (head.length < s.length) {
        const pair = /[\ud800-\udbff][\udc00-\udfff]/.test(s.slice(head.length, head.length + 2))
        expect(bytes(s.slice(0, head.length + (pair ? 2 : 1)))).toBeGreaterThan(budget)
      }
    }
    expect(storedHead('abc', 100)).toBe('abc')
  })
})

describe('fitAnswer', () => {
  const output = {
    exitCode: 0,
    stdout: '\u0001'.repeat(50_000),
    stderr: 'e'.repeat(100),
    timedOut: false,
    durationMs: 1,
  }

  it('cuts stdout and stderr of a command to fit and marks it truncated', () => {
    const fitted = fitAnswer({ ok: true, result: output }, 10_000, 'send_command')
    expect(fitted.ok).toBe(true)
    const result = (fitted as { result: typeof output & { truncated: boolean } }).result
    expect(storedBytes(result)).toBeLessThanOrEqual(10_000)
    expect(storedBytes(result)).toBeGreaterThan(9_990)
    expect(result).toMatchObject({ truncated: true, stderr: output.stderr, exitCode: 0 })
    expect(output.stdout.startsWith(result.stdout)).toBe(true)
  })

  it('leaves answers that fit, and errors, as they are', () => {
    const small = { ok: true as const, result: { exitCode: 0, stdout: 'x', stderr: '' } }
    expect(fitAnswer(small, 1000)).toBe(small)
    const error = { ok: false as const, error: new SpawnerError('bad_request', 'y'.repeat(5000)) }
    expect(fitAnswer(error, 1000)).toBe(error)
  })

  it('refuses any other answer that is too large, saying how to ask for less', () => {
    const file = {
      path: '/workspace/big',
      size: 30_000,
      encoding: 'base64',
      content: 'A'.repeat(40_000),
    }
    const fitted = fitAnswer({ ok: true, result: file }, 10_000, 'read_file')
    expect(fitted).toMatchObject({
      ok: false,
      error: { code: 'payload_too_large', kind: 'too_large' },
    })
    expect(!fitted.ok && fitted.error.message).toMatch(
      /read_file answer is \d+ bytes.*smaller file/,
    )
  })
})
