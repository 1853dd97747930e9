import type { WorkerConfig } from './config.ts'
import { BadRequestError } from './errors.ts'
import { assertPathLimits, hasLoneSurrogate } from './paths.ts'

/** Longest `NAME=value` Linux passes to a program (MAX_ARG_STRLEN, 32 pages), its NUL included. */
const MAX_ENV_ENTRY = 128 * 1024 - 1
/** All of a config's env: the rest of ARG_MAX (2 MiB by default) is left to arguments and plugins. */
const MAX_ENV_TOTAL = 1024 * 1024

/**
 * Refuses a config that passes its schema but that no container can start with: a workdir no
 * file system takes, or env the container's programs cannot get: a NUL or a lone surrogate in
 * a value (the OCI runtime refuses the first, no UTF-8 value holds the second), an entry over
 * 128 KiB or over 1 MiB in all (`execve` fails, the container exits at once).
 */
export const assertStartable = (config: WorkerConfig) => {
  assertPathLimits(config.workdir, 'workdir')
  let total = 0
  for (const [name, value] of Object.entries(config.env)) {
    const field = `env.${name}`
    const size = new TextEncoder().encode(`${name}=${value}`).length
    total += size + 1
    if (size > MAX_ENV_ENTRY) {
      throw new BadRequestError(
        `${field}: longer than ${MAX_ENV_ENTRY} bytes with its name, more than a program can get`,
        [{ path: field, message: `longer than ${MAX_ENV_ENTRY} bytes` }],
      )
    }
    if (total > MAX_ENV_TOTAL) {
      throw new BadRequestError(`env: more than ${MAX_ENV_TOTAL} bytes in all`, [
        { path: 'env', message: `more than ${MAX_ENV_TOTAL} bytes` },
      ])
    }
    if (value.includes('\0'))
      throw new BadRequestError(`${field}: must not contain NUL`, [
        { path: field, message: 'must not contain NUL' },
      ])
    if (hasLoneSurrogate(value)) {
      throw new BadRequestError(`${field}: not well-formed Unicode (a lone surrogate)`, [
        { path: field, message: 'lone surrogate' },
      ])
    }
  }
}
