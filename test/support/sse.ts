/** Reads a server-sent event stream until `until` appears in it (or it ends); returns the text. */
export const readSseUntil = async (res: Response, until: string): Promise<string> => {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes(until)) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return text
}

/** The `event:` / `data:` pairs of an SSE text, data parsed as JSON. */
export const sseEvents = (text: string): [string, any][] =>
  [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => [m[1]!, JSON.parse(m[2]!)])

/**
 * Subscribes to an SSE URL and keeps everything it sends; resolves once the stream is open (so
 * what happens after is in it). `stop()` closes it and returns the text.
 */
export const collectSse = async (url: string, headers: Record<string, string> = {}) => {
  const abort = new AbortController()
  const res = await fetch(url, { headers, signal: abort.signal })
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        text += decoder.decode(value, { stream: true })
      }
    } catch {
      // aborted by stop()
    }
  })()
  return {
    text: () => text,
    async stop() {
      abort.abort()
      await done
      return text
    },
  }
}
