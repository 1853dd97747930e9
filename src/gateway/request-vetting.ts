import { BadRequestError, ForbiddenError } from '../core/errors.ts'
import { priceOf, type PriceTable } from './prices.ts'
import { requestModel } from './usage.ts'

/**
 * What a request body may not ask of the upstream on a worker's behalf, and what the gateway
 * adds to one so it can meter it. A body is parsed only when it may need to be.
 */

/** Words in a body that asks a provider to fetch URLs; an escape may spell any of them. */
const FETCH_HINT = /mcp|web_fetch|url_?context|urlContext|\\u/i

/** Whether a body may ask the provider to fetch something (the cheap test before parsing). */
const mayFetch = (body: Uint8Array | undefined) =>
  body !== undefined && FETCH_HINT.test(new TextDecoder().decode(body))

/**
 * The provider-side tool in a request that fetches URLs named by the caller, or undefined:
 * Anthropic's `mcp_servers` and `web_fetch` tool, OpenAI's `mcp` tool, Gemini's URL context.
 * Searching the web stays allowed: the provider picks the pages, not the worker.
 */
export const providerFetch = (json: Record<string, unknown>): string | undefined => {
  if (Array.isArray(json.mcp_servers) && json.mcp_servers.length > 0) return "'mcp_servers'"
  const tools = Array.isArray(json.tools) ? (json.tools as unknown[]) : []
  for (const tool of tools) {
    if (typeof tool !== 'object' || tool === null) continue
    const t = tool as Record<string, unknown>
    const type = typeof t.type === 'string' ? t.type : ''
    if (type.startsWith('web_fetch')) return `the '${type}' tool`
    if (type === 'mcp') return "the 'mcp' tool"
    if ('url_context' in t || 'urlContext' in t) return 'the URL context tool'
  }
  return undefined
}

/**
 * A streamed Chat or text Completions request, asking for the usage chunk: the API sends usage
 * in a stream only when asked, and the gateway meters every call. `stream` counts as set when it
 * is anything but false (servers that coerce types take `"true"` or `1` for it). Other bodies
 * are left as they are; a completions body that is not a JSON object is refused, as the upstream
 * might read what the gateway cannot (`NaN` in Python) and stream it unmetered.
 */
export const askForUsage = (path: string, body: Uint8Array | undefined) => {
  if (!body || !/\/completions$/.test(path)) return body
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(body))
  } catch {
    json = undefined
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadRequestError('a completions request body must be a JSON object')
  }
  const req = json as { stream?: unknown; stream_options?: { include_usage?: unknown } }
  if (!req.stream || req.stream_options?.include_usage === true) return body
  req.stream_options = { ...req.stream_options, include_usage: true }
  return new TextEncoder().encode(JSON.stringify(req))
}

/** Calls that generate, and so cost: every model call but listings and token counts. */
export const GENERATES =
  /(?:\/messages|completions|\/responses|:generateContent|:streamGenerateContent)$/

/** A JSON body's root object, or undefined when the body is not one. */
const rootObject = (body: Uint8Array | undefined): Record<string, unknown> | undefined => {
  try {
    const json: unknown = body && JSON.parse(new TextDecoder().decode(body))
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Checks a generating call's body as the upstream reads it (every key, the last of a repeated
 * one, escapes in names): a Responses call in the background is refused, as it runs on after
 * its answer, where nothing meters it; under a dollar budget the model must have a price, or
 * the budget would never be reached. Returns the model the call names.
 */
export const vetBody = (
  path: string,
  body: Uint8Array | undefined,
  route: { pricedOnly?: boolean; reachesAll?: boolean },
  prices: PriceTable,
): string | undefined => {
  const pricedOnly = route.pricedOnly === true
  const inPath = requestModel(path, undefined)
  const responses = /\/responses$/.test(path)
  const fetching = !route.reachesAll && mayFetch(body)
  if (!responses && !pricedOnly && !fetching) return requestModel(path, body)
  const json = rootObject(body)
  const fetcher = fetching && json ? providerFetch(json) : undefined
  if (fetcher) {
    throw new ForbiddenError(
      `${fetcher} has the provider fetch URLs for the worker, past its network allow list; ` +
        "only a worker that reaches every host (network 'all', or '*' allowed) may use it",
      'forbidden',
    )
  }
  if (responses && json?.background) {
    throw new ForbiddenError(
      'a Responses call in the background runs on after its answer, unmetered: not through the gateway',
      'forbidden',
    )
  }
  const model = inPath ?? (typeof json?.model === 'string' ? json.model : undefined)
  if (pricedOnly && !priceOf(model, prices)) {
    throw new ForbiddenError(
      `${model ? `model '${model}' has` : 'a call naming no model (in a JSON object) has'} no ` +
        'price (MODEL_PRICES), and this worker is under a budget in dollars',
      'forbidden',
    )
  }
  return model
}
