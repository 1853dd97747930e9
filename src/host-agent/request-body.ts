import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { BadRequestError, PayloadTooLargeError } from '../core/errors.ts'
import { isJsonType, unsupported } from '../hono/json-body.ts'

/** Refuses a body over `maxBytes` with the core's 413. */
export const bodyCap = (maxBytes: number): MiddlewareHandler =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(`body is larger than ${maxBytes} bytes`)
    },
  })

/**
 * Reads a JSON body, or throws a 400 that says why not. The body must say it is JSON (415
 * otherwise): what a web page can send to another site without asking (`text/plain`, form
 * encodings) never reaches Docker. `AgentClient` always sends `application/json`.
 */
export const jsonBody = async (req: Request): Promise<unknown> => {
  const type = req.headers.get('content-type') ?? undefined
  if (type === undefined || !isJsonType(type)) throw unsupported(type)
  try {
    return await req.json()
  } catch {
    throw new BadRequestError('body: not valid JSON')
  }
}
