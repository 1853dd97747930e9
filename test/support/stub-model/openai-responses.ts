import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'
import { resultText, toolTurn, type Turn } from './tool-call.ts'

let counter = 0

type Item = { type?: string; role?: string; content?: unknown; output?: unknown }
type Body = {
  model?: string
  stream?: boolean
  input?: string | Item[]
  tools?: { type?: string; name?: string; parameters?: unknown }[]
}

/** The turn for a request with tools: its last user text, and the call output ending it. */
const turnOf = (b: Body): Turn | undefined => {
  const input = typeof b.input === 'string' ? [{ role: 'user', content: b.input }] : (b.input ?? [])
  const prompt = input.filter((i) => i.role === 'user').map((i) => resultText(i.content))
  const last = input.at(-1)
  const result =
    last?.type === 'function_call_output' ? { text: resultText(last.output) } : undefined
  const tools = (b.tools ?? []).flatMap((t) => (t.name ? [{ name: t.name, ...t }] : []))
  return toolTurn(prompt.at(-1) ?? '', result, tools)
}

/**
 * The OpenAI Responses API (`POST /v1/responses`, or `/responses` under a custom base URL),
 * streaming and not. Streams what Codex needs to finish a turn: response.created,
 * response.output_item.added, response.content_part.added, response.output_text.delta,
 * response.output_text.done, response.content_part.done, response.output_item.done and
 * response.completed with usage. Also lists models. A prompt "Run the command: <cmd>" is answered
 * with a `function_call` item of the CLI's shell tool (its arguments streamed as
 * response.function_call_arguments.delta/done), and the request that ends with its
 * `function_call_output` with `Tool result: <output>` (`Denied: <why>` when it says so).
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
    const b = (body ?? {}) as Body
    const turn = turnOf(b) ?? { text: answer }
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
    const text = 'text' in turn ? turn.text : ''
    const part = { type: 'output_text', text, annotations: [] }
    const item =
      'call' in turn
        ? {
            id: `fc_stub_${n}`,
            type: 'function_call',
            status: 'completed',
            call_id: `call_stub_${n}`,
            name: turn.call.name,
            arguments: JSON.stringify(turn.call.args),
          }
        : { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] }
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
      res.end(JSON.stringify(response('completed', [item], { usage, output_text: text })))
      return
    }
    startSse(res)
    let seq = 0
    const emit = (type: string, data: object) =>
      sse(res, type, { type, sequence_number: seq++, ...data })
    const at = { item_id: item.id, output_index: 0, content_index: 0 }
    emit('response.created', { response: response('in_progress', []) })
    emit('response.in_progress', { response: response('in_progress', []) })
    if (item.type === 'function_call') {
      const args = (item as { arguments: string }).arguments
      emit('response.output_item.added', {
        output_index: 0,
        item: { ...item, status: 'in_progress', arguments: '' },
      })
      emit('response.function_call_arguments.delta', { ...at, delta: args })
      emit('response.function_call_arguments.done', { ...at, arguments: args })
    } else {
      emit('response.output_item.added', {
        output_index: 0,
        item: { ...item, status: 'in_progress', content: [] },
      })
      emit('response.content_part.added', { ...at, part: { ...part, text: '' } })
      emit('response.output_text.delta', { ...at, delta: text })
      emit('response.output_text.done', { ...at, text })
      emit('response.content_part.done', { ...at, part })
    }
    emit('response.output_item.done', { output_index: 0, item })
    emit('response.completed', { response: response('completed', [item], { usage }) })
    res.end()
  },
}
