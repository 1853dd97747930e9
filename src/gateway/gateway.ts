import type { Env, Hono } from 'hono'
import { PayloadTooLargeError, SpawnerError, toSpawnerError } from '../core/errors.ts'
import { GATEWAY_PREFIX } from '../core/gateway-access.ts'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'
import type { ModelAccess, ModelRoute } from '../core/model-access.ts'
import { costOf, type PriceTable } from './prices.ts'
import { UsageMeter, requestModel, type ModelUsage } from './usage.ts'
import { GENERATES, askForUsage, vetBody } from './request-vetting.ts'

export interface GatewayOptions {
  models: ModelAccess
  prices: PriceTable
  logger: Logger
  /** Largest request body passed on (default 32 MiB: long conversations with images). */
  maxRequestBytes?: number
  fetch?: typeof fetch
}

// Headers of one connection, not of the request, and the ones the gateway sets itself.
const DROPPED_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'accept-encoding',
  'authorization',
  'x-api-key',
  'x-goog-api-key',
  'cookie',
])
// fetch() decodes a compressed body, so its length and encoding no longer describe it.
const DROPPED_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'set-cookie',
])

/**
 * The model calls the gateway passes on, by the end of their path: Anthropic's messages (and
 * token counting), OpenAI's responses, chat and text completions, Gemini's generate and count
 * calls, and model listings. Anything else a key could do (files, batches, fine-tuning, an
 * organisation's admin API) stays out of a worker's reach.
 */
const MODEL_CALL =
  /^(?:\/v\d+(?:alpha|beta)?\d*)?\/(?:(messages(?:\/count_tokens)?|chat\/completions|completions|responses)|(models(?:\/[\w.-]+(?::(?:generateContent|streamGenerateContent|countTokens))?)?))$/

/** Whether `method` on `path` (below the base URL) is a model call (see MODEL_CALL). */
const isModelCall = (method: string, path: string) => {
  const m = MODEL_CALL.exec(path)
  if (!m) return false
  // Listing models is a read; a model's generate call is a POST; nothing deletes one.
  if (m[2] && !m[2].includes(':')) return method === 'GET' || method === 'HEAD'
  return method === 'POST'
}

/**
 * Largest answer of known length held whole and sent in one write. Streamed through, an answer
 * leaves as its header, its body and the chunked encoding's end, each a write of its own; a TCP
 * relay without TCP_NODELAY on the way (a worker's in-container forwarder) then holds each small
 * write until the one before is acknowledged, which a client delaying its ACKs makes ~40 ms.
 */
const HELD_BYTES = 1024 * 1024

/** True for an answer read whole before it is passed on: bounded, unencoded, not a stream. */
const heldWhole = (res: Response) => {
  const length = Number(res.headers.get('content-length') ?? NaN)
  const encoding = res.headers.get('content-encoding')
  const type = res.headers.get('content-type') ?? ''
  return (
    length <= HELD_BYTES &&
    (!encoding || encoding === 'identity') &&
    !type.toLowerCase().includes('event-stream')
  )
}

/** Where the worker's credential came, so the real key goes out the same way. */
type Where = 'bearer' | 'x-api-key' | 'x-goog-api-key' | 'query'

const presented = (req: Request, url: URL): { credential: string; where: Where } | undefined => {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get('authorization') ?? '')?.[1]
  if (bearer) return { credential: bearer, where: 'bearer' }
  for (const where of ['x-api-key', 'x-goog-api-key'] as const) {
    const value = req.headers.get(where)
    if (value) return { credential: value, where }
  }
  const key = url.searchParams.get('key')
  return key ? { credential: key, where: 'query' } : undefined
}

/**
 * An error in a shape every provider's client reads a message from: Anthropic's
 * (`type: 'error'`, `error.type`), OpenAI's (`error.code`, `error.message`) and Gemini's
 * (`error.status`).
 */
const refusal = (err: SpawnerError) =>
  new Response(
    JSON.stringify({
      type: 'error',
      error: {
        type: err.code,
        code: err.code,
        status: err.code,
        message: `workers-spawner model gateway: ${err.message}`,
      },
    }),
    { status: httpStatusOf(err), headers: { 'content-type': 'application/json' } },
  )

/** About the fewest bytes a token takes in a request or an answer (JSON, SSE framing). */
const BYTES_PER_TOKEN = 4

/**
 * The usage of a call cut short (the client went, or the upstream broke off) before the answer
 * reported all of it: providers count the output, and OpenAI everything, only at the end, so
 * a client that hangs up just before would be charged next to nothing for what it read. The
 * output is at least the answer passed on, and with no usage reported at all the input is at
 * least the request body, each at BYTES_PER_TOKEN: an estimate on the high side.
 */
const cutShort = (u: ModelUsage | undefined, sent: number, relayed: number): ModelUsage => ({
  ...(u ?? { cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }),
  inputTokens: u ? u.inputTokens : Math.ceil(sent / BYTES_PER_TOKEN),
  outputTokens: Math.max(u?.outputTokens ?? 0, Math.ceil(relayed / BYTES_PER_TOKEN)),
})

/** The request body, refused past `max` bytes. */
const readBody = async (req: Request, max: number): Promise<Uint8Array | undefined> => {
  if (!req.body || req.method === 'GET' || req.method === 'HEAD') return undefined
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = req.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => undefined)
      throw new PayloadTooLargeError(`request body over ${max} bytes`)
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    body.set(c, at)
    at += c.byteLength
  }
  return body
}

/**
 * The model gateway: `/model/<plugin>/<path>` on the worker API listeners. Checks the worker's
 * credential (whichever header the CLI put it in), its plugin and its budget, swaps in the real
 * key in the same place (a query key in Gemini's header), forwards to the upstream and streams
 * the answer back untouched while a meter reads the usage from it; the call is recorded when
 * the answer ends.
 */
export const registerGateway = <E extends Env>(app: Hono<E>, opts: GatewayOptions): void => {
  const handler = async (req: Request, plugin: string) => {
    const url = new URL(req.url)
    // After the plugin's segment as sent: the decoded name may be shorter than it, and the rest
    // must start with '/' or it would extend the upstream's host.
    const after = url.pathname.indexOf('/', `${GATEWAY_PREFIX}/`.length)
    const rest = after === -1 ? '' : url.pathname.slice(after)
    const who = presented(req, url)
    let route: ModelRoute | undefined
    let body: Uint8Array | undefined
    let model: string | undefined
    // The call's place among the worker's running ones, freed once whatever becomes of it.
    let released = false
    const release = () => {
      if (route && !released) opts.models.release(route)
      released = true
    }
    try {
      if (!who) throw new SpawnerError('unauthorized', 'no credential (x-api-key, Bearer or key)')
      route = await opts.models.route(who.credential, plugin)
      if (!isModelCall(req.method, rest)) {
        throw new SpawnerError(
          'forbidden',
          `${req.method} ${rest || '/'} is not a model call the gateway passes on`,
        )
      }
      body = askForUsage(rest, await readBody(req, opts.maxRequestBytes ?? 32 * 1024 * 1024))
      model = GENERATES.test(rest)
        ? vetBody(rest, body, route, opts.prices)
        : requestModel(rest, body)
    } catch (err) {
      release()
      return refusal(toSpawnerError(err))
    }
    const headers = new Headers()
    req.headers.forEach((value, name) => {
      if (!DROPPED_REQUEST.has(name) && !name.startsWith('proxy-')) headers.set(name, value)
    })
    headers.set('accept-encoding', 'identity')
    const search = new URLSearchParams(url.search)
    search.delete('key')
    if (route.key) {
      // Never in the URL, which proxies log and redirects echo back (query and all): the
      // Gemini API, the one that takes `?key=`, takes its header as well.
      const where = who!.where === 'query' ? 'x-goog-api-key' : who!.where
      if (where === 'bearer') headers.set('authorization', `Bearer ${route.key}`)
      else headers.set(where, route.key)
    }
    const query = search.size > 0 ? `?${search}` : ''
    let upstream: Response
    try {
      upstream = await (opts.fetch ?? fetch)(`${route.upstream}${rest}${query}`, {
        method: req.method,
        headers,
        ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
        redirect: 'manual',
        signal: req.signal,
      })
    } catch (err) {
      release()
      opts.logger.warn('model upstream unreachable', {
        plugin,
        workerId: route.workerId,
        error: err instanceof Error ? err.message : String(err),
      })
      return refusal(
        new SpawnerError('model_upstream_error', `the model API did not answer (${plugin})`),
      )
    }
    const meter = new UsageMeter({
      contentType: upstream.headers.get('content-type'),
      model,
    })
    let recorded = false
    let relayed = 0
    /** Records the call once; `cut` when its answer ended before the upstream's end. */
    const finish = (cut = false) => {
      if (recorded) return
      recorded = true
      release()
      const usage = meter.finish()
      if (!usage && !upstream.ok) return
      const u =
        cut && upstream.ok
          ? cutShort(usage, body?.byteLength ?? 0, relayed)
          : (usage ?? {
              inputTokens: 0,
              outputTokens: 0,
              cacheReadInputTokens: 0,
              cacheCreationInputTokens: 0,
            })
      // A model the answer names without a price (a dated version, an operator gateway's alias)
      // is charged at the price of the one asked for, when that one has a price.
      const cost = costOf(u, opts.prices)
      opts.models.record(route, {
        ...u,
        ...(cost.priced || !model ? cost : costOf({ ...u, model }, opts.prices)),
        ...(u.model ? { model: u.model } : {}),
      })
    }
    const out = new Headers()
    upstream.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE.has(name)) out.set(name, value)
    })
    if (!upstream.body) {
      finish()
      return new Response(null, { status: upstream.status, headers: out })
    }
    if (heldWhole(upstream)) {
      let whole: Uint8Array
      try {
        whole = new Uint8Array(await upstream.arrayBuffer())
      } catch {
        finish()
        return refusal(
          new SpawnerError('model_upstream_error', `the model API's answer broke off (${plugin})`),
        )
      }
      meter.push(whole)
      finish()
      return new Response(whole as Uint8Array<ArrayBuffer>, {
        status: upstream.status,
        headers: out,
      })
    }
    const reader = upstream.body.getReader()
    const stream = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        try {
          const { done, value } = await reader.read()
          if (done) {
            finish()
            ctl.close()
            return
          }
          meter.push(value)
          relayed += value.byteLength
          ctl.enqueue(value)
        } catch (err) {
          finish(true)
          ctl.error(err)
        }
      },
      cancel(reason) {
        finish(true)
        return reader.cancel(reason)
      },
    })
    return new Response(stream, { status: upstream.status, headers: out })
  }
  app.all(`${GATEWAY_PREFIX}/:plugin/*`, (c) => handler(c.req.raw, c.req.param('plugin')))
}
