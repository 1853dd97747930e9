import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'
import { resultText, toolTurn, type Turn } from './tool-call.ts'

let counter = 0

type Message = { role?: string; content?: unknown }
type Body = {
  model?: string
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  messages?: Message[]
  tools?: { type?: string; function?: { name: string; parameters?: unknown } }[]
}

/** The turn for a request with tools: its last user text, and the tool message ending it. */
const turnOf = (b: Body): Turn | undefined => {
  const messages = b.messages ?? []
  const prompt = messages.filter((m) => m.role === 'user').map((m) => resultText(m.content))
  const last = messages.at(-1)
  const result = last?.role === 'tool' ? { text: resultText(last.content) } : undefined
  const tools = (b.tools ?? []).flatMap((t) => (t.function ? [t.function] : []))
  return toolTurn(prompt.at(-1) ?? '', result, tools)
}

/**
 * OpenAI-compatible chat completions (`POST …/chat/completions`), streaming (`data:` chunks
 * ending with `[DONE]`, usage in the last chunk only when `stream_options.include_usage` asks)
 * and not. Also lists models. A prompt "Run the command: <cmd>" is answered with a `tool_calls`
 * call of the CLI's shell tool, and the request ending with its `tool` message with
 * `Tool result: <output>` (`Denied: <why>` when it says so).
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
    const b = (body ?? {}) as Body
    const id = `chatcmpl-stub-${++counter}`
    const model = b.model ?? 'stub-model'
    const created = Math.floor(Date.now() / 1000)
    const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }
    const turn = turnOf(b) ?? { text: answer }
    const call =
      'call' in turn
        ? {
            id: `call_stub_${counter}`,
            type: 'function',
            function: { name: turn.call.name, arguments: JSON.stringify(turn.call.args) },
          }
        : undefined
    const finish = call ? 'tool_calls' : 'stop'
    const content = 'text' in turn ? turn.text : null
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      const message = { role: 'assistant', content, ...(call && { tool_calls: [call] }) }
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: finish }],
          usage,
        }),
      )
      return
    }
    startSse(res)
    const chunk = (delta: object, finishReason: string | null, extra: object = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
      ...extra,
    })
    sse(res, undefined, chunk({ role: 'assistant', content: '' }, null))
    if (call) sse(res, undefined, chunk({ tool_calls: [{ index: 0, ...call }] }, null))
    else sse(res, undefined, chunk({ content }, null))
    sse(res, undefined, chunk({}, finish))
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
