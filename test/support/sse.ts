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
