import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'

let counter = 0

/**
 * OpenAI-compatible chat completions (`POST …/chat/completions`), streaming (`data:` chunks
 * ending with `[DONE]`, usage in the last chunk only when `stream_options.include_usage` asks)
 * and not. Also lists models.
 */
export const openaiChat: ProviderHandler = {
  name: 'openai-chat',
  match: (method, path) =>
    (method === 'POST' && /\/chat\/completions(\?|$)/.test(path)) ||
    (method === 'GET' && /\/models(\?|$)/.test(path)),
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
    const b = (body ?? {}) as {
      model?: string
      stream?: boolean
      stream_options?: { include_usage?: boolean }
    }
    const id = `chatcmpl-stub-${++counter}`
    const model = b.model ?? 'stub-model'
    const created = Math.floor(Date.now() / 1000)
    const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            { index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' },
          ],
          usage,
        }),
      )
      return
    }
    startSse(res)
    const chunk = (delta: object, finish: string | null, extra: object = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...extra,
    })
    sse(res, undefined, chunk({ role: 'assistant', content: '' }, null))
    sse(res, undefined, chunk({ content: answer }, null))
    sse(res, undefined, chunk({}, 'stop'))
    // As the API does: a stream carries usage only when the request asks for it.
    if (b.stream_options?.include_usage)
      sse(res, undefined, {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage,
      })
    sse(res, undefined, '[DONE]')
    res.end()
  },
}
