import { describe, expect, it } from 'vitest'
import { createJsonLogger } from './logger.ts'

describe('createJsonLogger', () => {
  const capture = (secrets: string[]) => {
    const lines: string[] = []
    const logger = createJsonLogger({ secrets: () => secrets, write: (l) => lines.push(l) })
    return { logger, lines }
  }

  it('writes one JSON object per line', () => {
    const { logger, lines } = capture([])
    logger.info('hello', { n: 1 })
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'hello', n: 1 })
  })

  it('scrubs secrets, also where JSON escapes them, and where a field holds JSON text', () => {
    const secret = 'p"ss\\w0rd\tline\u0001end'
    const { logger, lines } = capture([secret, 'plain-secret-value'])
    logger.warn('oops', {
      raw: secret,
      nested: { deep: [`token=${secret};`] },
      json: JSON.stringify({ key: secret }),
      plain: 'x plain-secret-value y',
    })
    const line = lines[0]!
    expect(line).not.toContain('ss\\\\w0rd')
    expect(line).not.toContain('plain-secret-value')
    const parsed = JSON.parse(line)
    for (const value of [parsed.raw, parsed.nested.deep[0], parsed.json, parsed.plain]) {
      expect(value).toContain('[redacted]')
      expect(value).not.toContain('w0rd')
    }
  })
})
