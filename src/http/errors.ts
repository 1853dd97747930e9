import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { SpawnerError, toSpawnerError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** The design's error body. */
export const errorBody = (err: SpawnerError) => ({ error: err.toJSON() })

/** Renders any thrown value as the design's error JSON; the one place errors become statuses. */
export const onError = (logger: Logger) =>
  function onError(err: unknown, c: Context) {
    let e: SpawnerError
    if (err instanceof HTTPException) {
      e = new SpawnerError(err.status === 413 ? 'payload_too_large' : 'http_error', err.status, err.message || 'request refused')
    } else {
      e = toSpawnerError(err)
    }
    if (e.status >= 500) {
      logger.error('request failed', {
        method: c.req.method,
        path: c.req.path,
        code: e.code,
        error: err instanceof Error ? err.message : String(err),
      })
    }
    return c.json(errorBody(e), e.status as ContentfulStatusCode)
  }
