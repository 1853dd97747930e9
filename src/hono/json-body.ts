import type { Context } from 'hono'
import { BadRequestError, SpawnerError } from '../core/errors.ts'

/** 415: the body is not in the media type the route reads. */
export class UnsupportedMediaTypeError extends SpawnerError {
  constructor(message: string, details?: unknown) {
    super('unsupported_media_type', message, { details })
  }
}

/** `application/json` or `application/<anything>+json`, parameters allowed. */
export const isJsonType = (contentType: string) => {
  const essence = contentType.split(';')[0]!.trim().toLowerCase()
  return essence === 'application/json' || /^application\/[^/\s]+\+json$/.test(essence)
}

/**
 * Reads a route's JSON object body. The body must say it is JSON: what a cross-site form or
 * `no-cors` fetch can send (`text/plain`, form encodings) is refused before it is parsed. An
 * empty body without a Content-Type (`curl -X POST`) carries nothing and reads as `{}`.
 */
export const readJsonObject = async (c: Context): Promise<Record<string, unknown>> => {
  const type = c.req.header('content-type')
  if (type !== undefined && !isJsonType(type)) throw unsupported(type)
  const text = await c.req.text()
  if (text.trim() === '') return {}
  if (type === undefined) throw unsupported(undefined)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new BadRequestError('body: not valid JSON', [
      { path: '(body)', message: 'not valid JSON' },
    ])
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('body: must be a JSON object', [
      { path: '(body)', message: 'must be a JSON object' },
    ])
  }
  return body as Record<string, unknown>
}

/** The 415 for a body of `type` (undefined: none named) where JSON was expected. */
export const unsupported = (type: string | undefined) =>
  new UnsupportedMediaTypeError(
    `body must be JSON: send Content-Type: application/json${type === undefined ? '' : `, not '${type}'`}`,
    { expected: 'application/json', ...(type === undefined ? {} : { received: type }) },
  )
