import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { callerOf } from '../core/auth/authorize.ts'
import type { Command, HttpBinding } from '../core/catalog.ts'
import type { CommandStream, Dispatcher, Outcome } from '../core/dispatcher.ts'
import { BadRequestError, PayloadTooLargeError, toSpawnerError } from '../core/errors.ts'
import { principalOf, type AppEnv } from './auth.ts'
import { errorBody, errorResponse } from '../hono/errors.ts'
import { readJsonObject } from '../hono/json-body.ts'
import type { SseStreams } from './sse.ts'

export interface RouteLimits {
  /** Largest JSON body. */
  maxBodyBytes: number
  /** Largest raw file body. */
  maxFileBytes: number
  /** The listener's event streams: how many, and how far behind a client may fall. */
  streams: SseStreams
}

/** Query parameters that switch some command's answer to a stream: never command input. */
const streamSwitches = (commands: readonly Command[]) =>
  new Set(
    commands.flatMap((c) => {
      const when = c.http.streamWhen
      return when && 'query' in when ? [when.query] : []
    }),
  )

/** Repeated `key=value` query values as a record. */
const pairs = (name: string, values: string[]) =>
  Object.fromEntries(
    values.map((v) => {
      const at = v.indexOf('=')
      if (at <= 0) {
        const issue = { path: name, message: 'must be key=value' }
        throw new BadRequestError(`${name}: '${v}' must be key=value`, [issue])
      }
      return [v.slice(0, at), v.slice(at + 1)]
    }),
  )

/** Collects a command's input from query, body and path, as its binding says. */
const collectInput = async (
  c: Context<AppEnv>,
  http: HttpBinding,
  switches: ReadonlySet<string>,
) => {
  const input: Record<string, unknown> = {}
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (switches.has(key)) continue
    const special = Object.hasOwn(http.query ?? {}, key) ? http.query![key]! : undefined
    if (special) input[special.field] = pairs(key, values)
    else input[key] = values.length === 1 ? values[0] : values
  }
  if (http.body === 'json') Object.assign(input, await readJsonObject(c))
  else if (http.body === 'config') input[http.bodyField ?? 'config'] = await readJsonObject(c)
  // Last: the path names the worker, whatever the body says.
  for (const [param, field] of Object.entries(http.params ?? {})) {
    const value = c.req.param(param)
    if (value !== undefined) input[field] = value
  }
  return input
}

const accepts = (c: Context, type: string) => (c.req.header('accept') ?? '').includes(type)

const wantsStream = (c: Context, http: HttpBinding) => {
  const when = http.streamWhen
  if (!when) return false
  if ('always' in when) return true
  return 'accept' in when ? accepts(c, when.accept) : c.req.query(when.query) === when.value
}

/** How often a quiet command stream sends a comment, so proxies and clients see it alive. */
export const STREAM_HEARTBEAT_MS = 15_000

/**
 * The stream as SSE: each event as it comes (numbered when the command says so), then the
 * closing one, or an `error` event; a comment line while it is quiet. A client that leaves or
 * falls too far behind (see SseStreams) aborts the command.
 */
const sendStream = (
  c: Context<AppEnv>,
  stream: CommandStream,
  streams: SseStreams,
  worker: string | undefined,
  abort: AbortController,
) =>
  streams.respond(
    c,
    async (sse) => {
      sse.signal.addEventListener('abort', () => abort.abort(), { once: true })
      let id = 0
      const send = (event: string, data: unknown) => {
        const numbered = stream.numbered ? { id: String(++id) } : {}
        return sse.send({ event, data: JSON.stringify(data), ...numbered })
      }
      const beat = setInterval(() => sse.comment('keep-alive'), STREAM_HEARTBEAT_MS)
      try {
        for await (const e of stream) if (!send(e.event, e.data)) break
      } catch (err) {
        send('error', errorBody(toSpawnerError(err)))
      } finally {
        clearInterval(beat)
      }
    },
    worker,
  )

/** `Content-Disposition` for a download named after the file (RFC 6266). */
const attachmentOf = (path: string) => {
  const name = path.split('/').pop() || 'file'
  const ascii = name.replace(/[^A-Za-z0-9._-]/g, '_')
  return ascii === name
    ? `attachment; filename="${name}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

const respond = (
  c: Context<AppEnv>,
  cmd: Command,
  out: Outcome,
  streams: SseStreams,
  abort: AbortController,
) => {
  const status = (cmd.http.status ?? 200) as ContentfulStatusCode
  if (out.kind === 'result') return c.json(out.result as object, status)
  if (out.kind === 'bytes') {
    return c.body(out.bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(out.bytes.length),
      'x-file-path': encodeURIComponent(out.path),
      // The worker wrote these bytes: a browser saves them, never renders them on this origin.
      'content-disposition': attachmentOf(out.path),
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'sandbox',
    })
  }
  return sendStream(c, out.stream, streams, callerOf(principalOf(c)), abort)
}

/** Registers one route per catalog command, built from its HTTP binding. */
export const registerCommandRoutes = (
  app: Hono<AppEnv>,
  commands: readonly Command[],
  dispatcher: Dispatcher,
  limits: RouteLimits,
) => {
  const tooLarge = (max: number) => (c: Context) =>
    errorResponse(c, new PayloadTooLargeError(`body is larger than ${max} bytes`))
  const switches = streamSwitches(commands)

  for (const cmd of commands) {
    const raw = cmd.http.body === 'raw'
    const max = raw ? limits.maxFileBytes : limits.maxBodyBytes
    const handler = async (c: Context<AppEnv>) => {
      const input = await collectInput(c, cmd.http, switches)
      const abort = new AbortController()
      const out = await dispatcher.execute(principalOf(c), cmd, input, {
        stream: wantsStream(c, cmd.http),
        bytes: cmd.http.response === 'file' && !accepts(c, 'application/json'),
        // File bytes skip base64, and are read only once the call is allowed.
        ...(raw ? { body: async () => new Uint8Array(await c.req.arrayBuffer()) } : {}),
        signal: abort.signal,
      })
      return respond(c, cmd, out, limits.streams, abort)
    }
    const limit = bodyLimit({ maxSize: max, onError: tooLarge(max) })
    app.on(cmd.http.method.toUpperCase(), cmd.http.path, limit, handler)
  }
}
