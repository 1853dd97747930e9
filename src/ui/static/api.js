// Calls to the service's own /v1 API, as the dashboard makes them. With a token set, the
// login's HttpOnly cookie authenticates them; scripts never see a credential.

/** A refused call: `status`, and the service's `{ error: { code, message } }`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error?.code ?? 'http_error'
    this.details = body?.error?.details
  }
}

const toLogin = () => location.assign(`/ui/login?next=${encodeURIComponent(location.pathname)}`)

/**
 * One JSON call: `api('GET', '/v1/workers')`, `api('PATCH', '/v1/workers/w-1', { ttlSeconds })`.
 * Resolves with the parsed body; throws ApiError; on 401 goes to the login page.
 */
export const api = async (method, path, body) => {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = { error: { code: 'bad_response', message: text.slice(0, 200) } }
  }
  if (res.status === 401) toLogin()
  if (!res.ok) throw new ApiError(res.status, data)
  return data
}

/** Every event type /v1/events sends today (plus `gap`, sent when some were lost). */
export const EVENT_TYPES = [
  'status',
  'output',
  'response',
  'command_exit',
  'agent',
  'usage',
  'budget',
  'egress_denied',
  'permission_request',
  'permission_resolved',
]

/**
 * Follows `/v1/events` (filters: `{ worker, type }`), calling `onEvent(event)` with each parsed
 * event. EventSource resumes by itself after a dropped connection (sending Last-Event-ID); when
 * the service refuses a reconnect (restart, too many streams) this opens a new one after a
 * pause, from the last id seen. `onGap()` runs when the service says events were lost, and
 * `onOpen(reopened)` on each (re)connection, `onDown()` when it drops. Returns a function that stops it.
 * @example
 * const stop = follow({ worker: id }, (e) => console.log(e.type), { onGap: reload })
 */
export const follow = (filters, onEvent, { types = EVENT_TYPES, onGap, onOpen, onDown } = {}) => {
  let source
  let lastId
  let stopped = false
  let delay = 500
  let opens = 0
  const open = () => {
    const query = new URLSearchParams()
    if (filters.worker) query.set('worker', filters.worker)
    if (filters.type) query.set('type', filters.type)
    if (lastId !== undefined) query.set('lastEventId', lastId)
    source = new EventSource(`/v1/events?${query}`)
    source.onopen = () => {
      delay = 500
      onOpen?.(opens++ > 0)
    }
    for (const type of types) {
      source.addEventListener(type, (m) => {
        if (m.lastEventId) lastId = m.lastEventId
        onEvent(JSON.parse(m.data))
      })
    }
    source.addEventListener('gap', () => onGap?.())
    source.onerror = () => {
      if (stopped) return
      onDown?.()
      if (source.readyState !== EventSource.CLOSED) return
      setTimeout(() => !stopped && open(), delay)
      delay = Math.min(delay * 2, 10_000)
    }
  }
  open()
  return () => {
    stopped = true
    source.close()
  }
}
