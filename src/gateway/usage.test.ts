import { describe, expect, it } from 'vitest'
import { FIXTURES, type Fixture } from './usage.fixtures.ts'
import { requestModel, UsageMeter, type UsageMeterOptions } from './usage.ts'

const bytes = (s: string) => new TextEncoder().encode(s)

/** Meters `pieces` of a body. */
const meter = (pieces: Uint8Array[], opts: UsageMeterOptions) => {
  const m = new UsageMeter(opts)
  for (const p of pieces) m.push(p)
  return m.finish()
}

const whole = (f: Fixture, opts: Partial<UsageMeterOptions> = {}) =>
  meter([bytes(f.body)], { contentType: f.contentType, ...opts })

const byteByByte = (f: Fixture, opts: Partial<UsageMeterOptions> = {}) => {
  const b = bytes(f.body)
  return meter(
    Array.from(b, (_, i) => b.subarray(i, i + 1)),
    { contentType: f.contentType, ...opts },
  )
}

describe('UsageMeter', () => {
  it.each(FIXTURES)('reads $name', (f) => {
    expect(whole(f)).toEqual(f.usage)
    expect(byteByByte(f)).toEqual(f.usage)
  })

  it.each(FIXTURES)('tells $name apart without a content type', (f) => {
    expect(whole(f, { contentType: null })).toEqual(f.usage)
  })

  it.each(FIXTURES)('reads $name too big to hold, as it streams', (f) => {
    const tiny = { maxJsonBytes: 16, maxLineBytes: 16 }
    expect(whole(f, tiny)).toEqual(f.usage)
    expect(byteByByte(f, tiny)).toEqual(f.usage)
  })

  it('reads an SSE stream split at every byte boundary', () => {
    for (const f of FIXTURES.filter((f) => f.name.startsWith('anthropic sse'))) {
      const b = bytes(f.body)
      for (let i = 0; i <= b.length; i++) {
        const pieces = [b.subarray(0, i), b.subarray(i)]
        expect(meter(pieces, { contentType: f.contentType })).toEqual(f.usage)
        expect(meter(pieces, { contentType: f.contentType, maxLineBytes: 64 })).toEqual(f.usage)
      }
    }
  })

  it('meters a Responses stream whose final event is megabytes long (echoed instructions)', () => {
    const instructions = 'Be brief. '.repeat(300_000)
    const response = {
      model: 'gpt-5',
      instructions,
      usage: { input_tokens: 800_000, output_tokens: 3 },
    }
    const body = `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response })}\n\n`
    const b = bytes(body)
    const pieces = Array.from({ length: Math.ceil(b.length / 16_384) }, (_, i) =>
      b.subarray(i * 16_384, (i + 1) * 16_384),
    )
    expect(meter(pieces, { contentType: 'text/event-stream' })).toMatchObject({
      model: 'gpt-5',
      inputTokens: 800_000,
      outputTokens: 3,
    })
  })

  it('prefers the model the response names, and falls back to the request’s', () => {
    const chat = '{"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    expect(meter([bytes(chat)], { contentType: 'application/json', model: 'gpt-4.1' })).toEqual({
      model: 'gpt-4.1',
      inputTokens: 1,
      outputTokens: 2,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
    })
    const named = '{"model":"gpt-4.1-mini","usage":{"prompt_tokens":1,"completion_tokens":2}}'
    expect(meter([bytes(named)], { contentType: 'application/json', model: 'x' })?.model).toBe(
      'gpt-4.1-mini',
    )
    expect(meter([bytes(chat)], { contentType: 'application/json' })).not.toHaveProperty('model')
  })

  it('finds no usage where there is none', () => {
    const none = [
      ['application/json', '{"type":"error","error":{"type":"overloaded_error","message":"x"}}'],
      ['application/json', '{"usage":"lots","model":"m"}'],
      ['text/event-stream', 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'],
      ['text/event-stream', 'data: {"usage": {"prompt_tokens": 5}'],
      ['text/html', '<html><body>502 Bad Gateway</body></html>'],
      [null, ''],
      [null, '   \n\n  '],
      ['application/json', '{"usage":{"prompt_tokens":5,'],
    ] as const
    for (const [contentType, body] of none) {
      expect(meter([bytes(body)], { contentType }), body).toBeUndefined()
    }
  })

  it('keeps what closed in a streamed array that was cut short', () => {
    const f = FIXTURES.find((f) => f.name === 'gemini streamed json array')!
    const cut = f.body.slice(0, f.body.lastIndexOf('"usageMetadata"'))
    expect(meter([bytes(cut)], { contentType: f.contentType })).toMatchObject({
      inputTokens: 100,
      outputTokens: 12,
    })
  })

  it('never throws on garbage, and finishes once', () => {
    let seed = 1
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    for (const contentType of ['text/event-stream', 'application/json', null]) {
      for (let n = 0; n < 50; n++) {
        const m = new UsageMeter({ contentType, maxJsonBytes: 64, maxLineBytes: 32 })
        for (let k = 0; k < 20; k++) {
          const junk = Uint8Array.from({ length: 40 }, () => Math.floor(rand() * 256))
          expect(() => m.push(junk)).not.toThrow()
          m.push(bytes(['data: {"usage":', '{"a":[', '"\\', '\n\n', '}]}'][k % 5]!))
        }
        expect(() => m.finish()).not.toThrow()
      }
    }
    const m = new UsageMeter({ contentType: 'application/json' })
    m.push(bytes(FIXTURES[0]!.body))
    const first = m.finish()
    m.push(bytes('garbage'))
    expect(m.finish()).toEqual(first)
  })
})

describe('requestModel', () => {
  const body = (v: unknown) => bytes(typeof v === 'string' ? v : JSON.stringify(v))

  it('reads a Gemini path', () => {
    expect(
      requestModel('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse', undefined),
    ).toBe('gemini-2.5-pro')
    expect(requestModel('/v1/models/tuned%2Dx:generateContent', body({ model: 'no' }))).toBe(
      'tuned-x',
    )
    expect(requestModel('/v1/models?x=/models/a:b', undefined)).toBeUndefined()
  })

  it('reads the top-level model of a JSON body, not nested ones', () => {
    const tricky = {
      metadata: { model: 'nested' },
      tools: [{ model: 'in-array' }],
      messages: [{ content: '"model": "in-text"' }],
      model: 'claude-opus-4-5',
    }
    expect(requestModel('/v1/messages', body(tricky))).toBe('claude-opus-4-5')
    expect(requestModel('/v1/messages', body({ model: 'gpt-5', stream: true }))).toBe('gpt-5')
    expect(requestModel('/v1/messages', body(' \n{"model":"m\\u00e9"}'))).toBe('mé')
  })

  it('stops reading once it has the model', () => {
    const b = body('{"model":"gpt-5","input":"' + 'x'.repeat(300_000) + '"} not json at all {')
    expect(requestModel('/v1/responses', b)).toBe('gpt-5')
  })

  it('finds none in bodies without one', () => {
    for (const b of [
      '',
      'not json',
      '[{"model":"x"}]',
      '{"a":{"model":"x"}}',
      '{"model":3}',
      '{}{"model":"x"}',
    ]) {
      expect(requestModel('/v1/chat/completions', body(b)), b).toBeUndefined()
    }
    expect(requestModel('/v1/chat/completions', undefined)).toBeUndefined()
  })
})
