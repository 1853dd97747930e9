import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'

let counter = 0

/**
 * The Anthropic Messages API (`POST /v1/messages`, `?beta=true` included), streaming and not.
 * Streams the sequence Claude Code needs: message_start, content_block_start,
 * content_block_delta (text_delta), content_block_stop, message_delta (stop_reason),
 * message_stop. Also answers `HEAD /` and token counting.
 */
export const anthropic: ProviderHandler = {
  name: 'anthropic',
  match: (method, path) =>
    (method === 'POST' && /^\/v1\/messages(\/count_tokens)?(\?|$)/.test(path)) ||
    (method === 'HEAD' && path === '/'),
  handle({ req, res, body, answer }) {
    if (req.method === 'HEAD') {
      res.writeHead(200)
      res.end()
      return
    }
    if ((req.url ?? '').startsWith('/v1/messages/count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ input_tokens: 10 }))
      return
    }
    const b = (body ?? {}) as { model?: string; stream?: boolean }
    const id = `msg_stub_${++counter}`
    const model = b.model ?? 'stub-model'
    const usage = { input_tokens: 12, output_tokens: 3 }
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: answer }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage,
        }),
      )
      return
    }
    startSse(res)
    sse(res, 'message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 1 },
      },
    })
    sse(res, 'content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    })
    sse(res, 'content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: answer },
    })
    sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 })
    sse(res, 'message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3 },
    })
    sse(res, 'message_stop', { type: 'message_stop' })
    res.end()
  },
}
