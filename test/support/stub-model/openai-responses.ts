import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'

let counter = 0

/**
 * The OpenAI Responses API (`POST /v1/responses`, or `/responses` under a custom base URL),
 * streaming and not. Streams what Codex needs to finish a turn: response.created,
 * response.output_item.added, response.content_part.added, response.output_text.delta,
 * response.output_text.done, response.content_part.done, response.output_item.done and
 * response.completed with usage. Also lists models.
 */
export const openaiResponses: ProviderHandler = {
  name: 'openai-responses',
  match: (method, path) =>
    (method === 'POST' && /^(\/v1)?\/responses(\?|$)/.test(path)) ||
    (method === 'GET' && /^(\/v1)?\/models(\?|$)/.test(path)),
  handle({ req, res, body, answer }) {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          object: 'list',
          data: [{ id: 'stub-model', object: 'model', owned_by: 'stub' }],
        }),
      )
      return
    }
    const b = (body ?? {}) as { model?: string; stream?: boolean }
    const n = ++counter
    const id = `resp_stub_${n}`
    const itemId = `msg_stub_${n}`
    const model = b.model ?? 'stub-model'
    const createdAt = Math.floor(Date.now() / 1000)
    const usage = {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 15,
    }
    const part = { type: 'output_text', text: answer, annotations: [] }
    const item = {
      id: itemId,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [part],
    }
    const response = (status: string, output: object[], extra: object = {}) => ({
      id,
      object: 'response',
      created_at: createdAt,
      status,
      model,
      output,
      ...extra,
    })
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(response('completed', [item], { usage, output_text: answer })))
      return
    }
    startSse(res)
    let seq = 0
    const emit = (type: string, data: object) =>
      sse(res, type, { type, sequence_number: seq++, ...data })
    const at = { item_id: itemId, output_index: 0, content_index: 0 }
    emit('response.created', { response: response('in_progress', []) })
    emit('response.in_progress', { response: response('in_progress', []) })
    emit('response.output_item.added', {
      output_index: 0,
      item: { ...item, status: 'in_progress', content: [] },
    })
    emit('response.content_part.added', { ...at, part: { ...part, text: '' } })
    emit('response.output_text.delta', { ...at, delta: answer })
    emit('response.output_text.done', { ...at, text: answer })
    emit('response.content_part.done', { ...at, part })
    emit('response.output_item.done', { output_index: 0, item })
    emit('response.completed', { response: response('completed', [item], { usage }) })
    res.end()
  },
}
