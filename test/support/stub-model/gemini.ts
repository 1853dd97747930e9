import type { ProviderHandler } from './server.ts'
import { sse, startSse } from './server.ts'
import { resultText, toolTurn, type Turn } from './tool-call.ts'

const usageMetadata = { promptTokenCount: 12, candidatesTokenCount: 3, totalTokenCount: 15 }

type Part = { text?: string; functionCall?: unknown; functionResponse?: { response?: unknown } }
type Body = {
  contents?: { role?: string; parts?: Part[] }[]
  tools?: { functionDeclarations?: { name: string; parameters?: unknown }[] }[]
}

/** The turn for a request with tools: its last user text, and the function response ending it. */
const turnOf = (body: Body): Turn | undefined => {
  const contents = body.contents ?? []
  const user = contents.filter((c) => c.role === 'user')
  const texts = user.map((c) => (c.parts ?? []).map((p) => p.text ?? '').join(''))
  const last = contents.at(-1)?.parts?.find((p) => p.functionResponse)?.functionResponse
  const tools = (body.tools ?? []).flatMap((t) =>
    (t.functionDeclarations ?? []).map((d) => ({
      name: d.name,
      parameters: d.parameters ?? (d as { parametersJsonSchema?: unknown }).parametersJsonSchema,
    })),
  )
  const prompt = texts.filter((t) => t.trim()).at(-1) ?? ''
  const response = last?.response as { error?: unknown } | undefined
  const result = last && { text: resultText(response), isError: response?.error !== undefined }
  return toolTurn(prompt, result, tools)
}

const response = (turn: Turn, model: string) => ({
  candidates: [
    {
      content: {
        role: 'model',
        parts: ['call' in turn ? { functionCall: turn.call } : { text: turn.text }],
      },
      finishReason: 'STOP',
      index: 0,
    },
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
 * fixed count. A prompt "Run the command: <cmd>" is answered with a `functionCall` of the CLI's
 * shell tool, and the request that carries its `functionResponse` with `Tool result: <output>` (or
 * `Denied: <why>` when it is an error that says so).
 */
export const gemini: ProviderHandler = {
  name: 'gemini',
  match: (method, path) => method === 'POST' && ROUTE.test(path),
  handle({ req, res, body, answer }) {
    const [, model = 'stub-model', method] = ROUTE.exec(req.url ?? '') ?? []
    if (method === 'countTokens') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ totalTokens: 12 }))
      return
    }
    const turn = turnOf((body ?? {}) as Body) ?? { text: answer }
    if (method === 'generateContent') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(response(turn, model)))
      return
    }
    startSse(res)
    sse(res, undefined, response(turn, model))
    res.end()
  },
}
