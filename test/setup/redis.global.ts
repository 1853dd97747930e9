import { Redis } from 'ioredis'
import dockerSetup from './docker.global.ts'

/** Redis the tests use; `.ci/run` starts one on this address. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Fails the run, with what to start, when Redis (or Docker) is missing. */
export default async function setup() {
  await dockerSetup()
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  try {
    await redis.connect()
    await redis.ping()
  } catch (err) {
    throw new Error(
      `Redis not reachable at ${REDIS_URL} (${(err as Error).message}). Start it ` +
        '(`redis-server --daemonize yes`) or run `bash .ci/run`, which installs and starts it.',
    )
  } finally {
    redis.disconnect()
  }
}
