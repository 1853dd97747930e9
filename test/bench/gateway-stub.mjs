/**
 * The gateway bench's model upstream, run in a worker thread so that on the service's side it
 * costs the service's event loop nothing (a real upstream is another machine). Speaks enough of
 * the Anthropic Messages API: a JSON answer with `usage`; with `stream: true` a short SSE answer,
 * an event per write; with `x-bench-stream: long` too, a prebuilt SSE answer of `streamBytes` in
 * many small `content_block_delta` events ending with `message_delta` usage. Answers only the real key (`key`), so a call that passed the gateway proves the swap.
 *
 * workerData: `{ key, streamBytes, hosts }`; posts `{ ports }` (one listener per host) once
 * listening, and `{ served }` when sent `'count'`.
 */
import { createServer } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'

const { key, streamBytes, hosts } = workerData

const sse = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** The streamed answer, built once: what a long generation looks like on the wire. */
const streamed = () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(4)
  const delta = sse('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text },
  })
  const events = Math.max(1, Math.ceil(streamBytes / delta.length))
  const head =
    sse('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_bench',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 1 },
      },
    }) +
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    })
  const tail =
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }) +
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: events * 10 },
    }) +
    sse('message_stop', { type: 'message_stop' })
  return Buffer.from(head + delta.repeat(events) + tail)
}

const json = Buffer.from(
  JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: '12' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 3 },
  }),
)
const stream = streamed()
const short = [
  sse('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_bench',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1 },
    },
  }),
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }),
  ...['5 + 7', ' is', ' 12.'].map((text) =>
    sse('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text },
    }),
  ),
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 5 },
  }),
  sse('message_stop', { type: 'message_stop' }),
]
let served = 0

const handle = (req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (req.headers['x-api-key'] !== key) {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"type":"error","error":{"type":"authentication_error","message":"bad key"}}')
      return
    }
    served++
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      if (req.headers['x-bench-stream'] === 'long') return void res.end(stream)
      // A short answer, an event per write, as a model API sends them.
      for (const event of short) res.write(event)
      res.end()
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length })
      res.end(json)
    }
  })
}

const listen = (host) =>
  new Promise((resolve, reject) => {
    const server = createServer({ keepAliveTimeout: 60_000 }, handle)
    server.once('error', reject)
    server.listen(0, host, () => resolve(server.address().port))
  })

const ports = await Promise.all(hosts.map(listen))
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ served })
})
parentPort.postMessage({ ports, streamBytes: stream.length })
