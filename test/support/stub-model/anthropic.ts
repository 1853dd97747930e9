import type { ProviderHandler } from './server.ts'
import { afterToolReply, commandToRun, shellToolOf, sse, startSse } from './server.ts'

let counter = 0

type Block = { type?: string; text?: string; content?: unknown; is_error?: boolean; id?: string }
type Message = { role?: string; content?: string | Block[] }

/** The text of a message's content, or of a tool result's content. */
const textOf = (content: unknown): string => {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return (content as Block[]).map((b) => (b.type === 'text' ? (b.text ?? '') : '')).join('\n')
}

/** What the stub answers: a text, or a call of the CLI's shell tool. */
type Turn = { text: string } | { tool: string; input: { command: string } }

/**
 * The turn for a request: after a tool result, a text that reports it; for a prompt that says
 * `Run the command: <cmd>` and offers a shell tool, a call of that tool; else the sum.
 */
const turnFor = (
  body: { messages?: Message[]; tools?: { name?: string }[] },
  answer: string,
): Turn => {
  // Claude Code may put a `system` message after the conversation: the turn is the last of it.
  const last = body.messages?.filter((m) => m.role === 'user' || m.role === 'assistant').at(-1)
  const blocks = Array.isArray(last?.content) ? last.content : []
  const result = blocks.find((b) => b.type === 'tool_result')
  if (last?.role === 'user' && result)
    return { text: afterToolReply(textOf(result.content), result.is_error === true) }
  const command = last?.role === 'user' ? commandToRun(textOf(last.content)) : undefined
  const tool = shellToolOf((body.tools ?? []).flatMap((t) => (t.name ? [t.name] : [])))
  if (command && tool) return { tool, input: { command } }
  return { text: answer }
}

/**
 * The Anthropic Messages API (`POST /v1/messages`, `?beta=true` included), streaming and not.
 * Streams the sequence Claude Code needs: message_start, content_block_start,
 * content_block_delta (text_delta, or input_json_delta for a tool call), content_block_stop,
 * message_delta (stop_reason), message_stop. Also answers `HEAD /` and token counting.
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
    const b = (body ?? {}) as { model?: string; stream?: boolean; messages?: Message[] }
    const id = `msg_stub_${++counter}`
    const model = b.model ?? 'stub-model'
    const usage = { input_tokens: 12, output_tokens: 3 }
    const turn = turnFor(b, answer)
    const toolUseId = `toolu_stub_${counter}`
    const block =
      'tool' in turn
        ? { type: 'tool_use', id: toolUseId, name: turn.tool, input: turn.input }
        : { type: 'text', text: turn.text }
    const stopReason = 'tool' in turn ? 'tool_use' : 'end_turn'
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [block],
          stop_reason: stopReason,
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
      content_block:
        'tool' in turn
          ? { type: 'tool_use', id: toolUseId, name: turn.tool, input: {} }
          : { type: 'text', text: '' },
    })
    sse(res, 'content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta:
        'tool' in turn
          ? { type: 'input_json_delta', partial_json: JSON.stringify(turn.input) }
          : { type: 'text_delta', text: turn.text },
    })
    sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 })
    sse(res, 'message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: 3 },
    })
    sse(res, 'message_stop', { type: 'message_stop' })
    res.end()
  },
}
