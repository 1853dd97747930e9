import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { BadRequestError, PayloadTooLargeError } from '../../core/errors.ts'

/** Refuses a body over `maxBytes` with the core's 413. */
export const bodyCap = (maxBytes: number): MiddlewareHandler =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(`body is larger than ${maxBytes} bytes`)
    },
  })

/** Reads a JSON body, or throws a 400 that says why not. */
export const jsonBody = async (req: Request): Promise<unknown> => {
  try {
    return await req.json()
  } catch {
    throw new BadRequestError('body: not valid JSON')
  }
}
