import type Dockerode from 'dockerode'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'
import { dockerMessage, dockerStatus, toDockerError } from './docker-errors.ts'
import type { HelperTimeouts } from './exec-helper.ts'

/** What every host-side Docker helper needs: the client, a logger, and where it points. */
export interface DockerContext {
  docker: Dockerode
  logger: Logger
  /** Human description of the engine address, used in "not reachable" errors. */
  target: string
  /** Deadlines of the helper commands run in containers (see exec-helper.ts). */
  helperTimeouts?: Partial<HelperTimeouts>
}

/**
 * Runs one Engine API call with a debug line before and after. A failure that `absorb`
 * accepts (an idempotent answer such as "already gone") resolves to `undefined`; any other
 * failure is logged and rethrown as a SpawnerError (see `toDockerError`).
 */
export const dockerCall = async <T>(
  ctx: DockerContext,
  op: string,
  fields: Record<string, unknown>,
  fn: () => Promise<T>,
  absorb?: (err: unknown) => boolean,
): Promise<T | undefined> => {
  const started = performance.now()
  ctx.logger.debug(`docker ${op}`, fields)
  try {
    const result = await fn()
    ctx.logger.debug(`docker ${op} done`, { ...fields, ms: elapsed(started) })
    return result
  } catch (err) {
    const status = dockerStatus(err)
    if (absorb?.(err)) {
      ctx.logger.debug(`docker ${op} absorbed`, { ...fields, status, reason: dockerMessage(err) })
      return undefined
    }
    const mapped = toDockerError(err, ctx.target)
    const level = httpStatusOf(mapped) >= 500 ? 'warn' : 'debug'
    ctx.logger[level](`docker ${op} failed`, {
      ...fields,
      status,
      code: mapped.code,
      reason: mapped.message,
      ms: elapsed(started),
    })
    throw mapped
  }
}

/** `dockerCall` for calls whose failures are never absorbed. */
export const mustCall = async <T>(
  ctx: DockerContext,
  op: string,
  fields: Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> => (await dockerCall(ctx, op, fields, fn)) as T

const elapsed = (started: number): number => Math.round(performance.now() - started)
