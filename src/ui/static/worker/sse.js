// Server-sent events over fetch: for the streams EventSource cannot open (a POST with a body,
// a stream that must stop at a signal). The service's streams end with one closing event.
import { ApiError } from '../api.js'

/** Splits an SSE body into `{ event, data, id }` messages, calling `onMessage` with each. */
const readMessages = async (body, onMessage) => {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let end
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
      const msg = { event: 'message', data: [], id: undefined }
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') msg.event = value
        else if (field === 'data') msg.data.push(value)
        else if (field === 'id') msg.id = value
      }
      if (msg.data.length) onMessage({ ...msg, data: msg.data.join('\n') })
    }
  }
}

/**
 * Opens an SSE stream with `fetch` and calls `onEvent(name, parsedData)` for each event until
 * the stream ends or `signal` aborts. A refused call throws ApiError (on 401, to the login).
 * @example
 * await stream('POST', `/v1/workers/${id}/commands`, { prompt }, (name, data) => …)
 */
export const stream = async (method, path, body, onEvent, signal) => {
  const res = await fetch(path, {
    method,
    headers: {
      accept: 'text/event-stream',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  })
  if (!res.ok || !res.body) {
    const text = await res.text()
    let data = null
    try {
      data = JSON.parse(text)
    } catch {
      data = { error: { code: 'bad_response', message: text.slice(0, 200) } }
    }
    if (res.status === 401)
      location.assign(`/ui/login?next=${encodeURIComponent(location.pathname)}`)
    throw new ApiError(res.status, data)
  }
  await readMessages(res.body, (m) => onEvent(m.event, JSON.parse(m.data), m.id))
}
