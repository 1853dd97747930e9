import type { Hono } from 'hono'
import { ForbiddenError } from '../core/errors.ts'
import { authenticate, principalOf, type AppEnv, type AuthOptions } from './auth.ts'

/**
 * Metrics in the Prometheus text format, however the entry collects them (the Node entry uses
 * prom-client, see src/node/metrics.ts). The HTTP layer only serves them: nothing here knows how.
 */
export interface MetricsSource {
  /** `text/plain; version=0.0.4; charset=utf-8` for the Prometheus text format. */
  readonly contentType: string
  /** The exposition, gauges read now. */
  render(): Promise<string>
}

/**
 * `GET /metrics`, for operators only, like `/v1`: the API token's bearer (or, without one, a
 * loopback caller) gets them; a worker's token gets 403, since the counts span every worker.
 */
export const registerMetricsRoute = (
  app: Hono<AppEnv>,
  source: MetricsSource,
  auth: AuthOptions,
): void => {
  app.use('/metrics', authenticate(auth))
  app.get('/metrics', async (c) => {
    if (principalOf(c).kind !== 'operator') {
      throw new ForbiddenError('metrics are for operators')
    }
    const body = await source.render()
    return c.body(body, 200, { 'content-type': source.contentType, 'cache-control': 'no-store' })
  })
}
