import type { MiddlewareHandler } from 'hono'
import type { Logger } from '../core/logger.ts'

/** Logs every request at debug level: method, path, status and milliseconds. */
export const accessLog = (logger: Logger): MiddlewareHandler =>
  async function accessLog(c, next) {
    const started = performance.now()
    await next()
    logger.debug('http', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    })
  }
