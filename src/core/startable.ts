import type { WorkerConfig } from './config.ts'
import { BadRequestError } from './errors.ts'
import { assertPathLimits } from './paths.ts'

/**
 * Refuses a config that passes its schema but that no container can start with: a workdir no
 * file system takes, or an env value with a NUL (the OCI runtime refuses both at start, which
 * the engine reports as its own failure).
 */
export const assertStartable = (config: WorkerConfig) => {
  assertPathLimits(config.workdir, 'workdir')
  for (const [name, value] of Object.entries(config.env)) {
    if (value.includes('\0')) {
      throw new BadRequestError(`env.${name}: must not contain NUL`, [{ path: `env.${name}`, message: 'must not contain NUL' }])
    }
  }
}
