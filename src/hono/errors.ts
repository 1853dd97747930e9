import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { describeError, SpawnerError, toSpawnerError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'

/** The design's error body: code, message and details; never the cause. */
export const errorBody = (err: SpawnerError) => ({ error: err.toJSON() })

/** Answers `err` with its status, after the fields of `extra` (a readiness check's). */
export const errorResponse = (c: Context, err: SpawnerError, extra: object = {}) =>
  c.json({ ...extra, ...errorBody(err) }, httpStatusOf(err) as ContentfulStatusCode)

/**
 * Renders any thrown value as the design's error JSON; the one place errors become statuses.
 * A 5xx is logged with its causes, which the answer never holds.
 */
export const onError = (logger: Logger) =>
  function onError(err: unknown, c: Context) {
    let e: SpawnerError
    let status: number
    if (err instanceof HTTPException) {
      // Hono's own refusal carries the status Hono chose.
      const code = err.status === 413 ? 'payload_too_large' : 'http_error'
      e = new SpawnerError(code, err.message || 'request refused', { cause: err })
      status = err.status
    } else {
      e = toSpawnerError(err)
      status = httpStatusOf(e)
    }
    if (status >= 500) {
      logger.error('request failed', {
        method: c.req.method,
        path: c.req.path,
        code: e.code,
        error: describeError(err),
      })
    }
    return c.json(errorBody(e), status as ContentfulStatusCode)
  }
