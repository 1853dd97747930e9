import type { Hono } from 'hono'
import { ForbiddenError } from '../core/errors.ts'
import { principalOf, type AppEnv } from './auth.ts'

/** One warm pool: what it keeps ready, and how many wait now. */
export interface PoolLevel {
  key: string
  agent: string
  capabilities: string[]
  /** How many it keeps. */
  size: number
  /** How many wait now. */
  ready: number
}

/** `GET /v1/pools`: the warm pools of this instance (WARM_POOLS) and their fill level. */
export const registerPoolsRoute = (app: Hono<AppEnv>, pools: () => PoolLevel[]) => {
  app.get('/v1/pools', (c) => {
    if (principalOf(c).kind !== 'operator') throw new ForbiddenError('pools are for operators')
    return c.json({ pools: pools() })
  })
}
