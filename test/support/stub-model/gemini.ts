import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'

const usageMetadata = { promptTokenCount: 12, candidatesTokenCount: 3, totalTokenCount: 15 }

const response = (answer: string, model: string) => ({
  candidates: [
    { content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP', index: 0 },
  ],
  usageMetadata,
  modelVersion: model,
})

const ROUTE =
  /^\/v1(?:beta|alpha)?\/models\/([^/:?]+):(streamGenerateContent|generateContent|countTokens)(\?|$)/

/**
 * The Gemini API (`POST /v1beta/models/<model>:<method>`): `streamGenerateContent?alt=sse`
 * answers with one SSE `data:` chunk of GenerateContentResponse (text, `finishReason: 'STOP'`,
 * `usageMetadata`); `generateContent` with the same response as JSON; `countTokens` with a
 * fixed count.
 */
export const gemini: ProviderHandler = {
  name: 'gemini',
  match: (method, path) => method === 'POST' && ROUTE.test(path),
  handle({ req, res, answer }) {
    const [, model = 'stub-model', method] = ROUTE.exec(req.url ?? '') ?? []
    if (method === 'countTokens') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ totalTokens: 12 }))
      return
    }
    if (method === 'generateContent') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(response(answer, model)))
      return
    }
    startSse(res)
    sse(res, undefined, response(answer, model))
    res.end()
  },
}
