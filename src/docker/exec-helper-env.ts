import { ConflictError } from '../core/errors.ts'

/**
 * The environment of the commands the service runs in a container on its own account
 * (helpers: file reads and writes, the kill of a timed-out command). A `docker exec` inherits
 * the container's environment, which the agent controls (a parent sets its child's), and the
 * agent owns directories on the image's PATH (`~/.local/bin`). So a helper names every
 * program by its absolute path, in root-owned directories, and runs with an environment of
 * the service's own: the exec's `Env` overrides each variable the container sets (the
 * loader reads them before anything runs) and `env -i` starts the helper's shell with
 * nothing else.
 */

/** The PATH of a helper: root-owned directories only. */
export const HELPER_PATH = '/usr/sbin:/usr/bin:/sbin:/bin'

/** What a helper's programs see, besides what each helper adds. */
const FIXED: Readonly<Record<string, string>> = { PATH: HELPER_PATH, LC_ALL: 'C' }

/**
 * Loader variables that do nothing when empty (glibc). Any other `LD_` name may act by its
 * mere presence, as LD_TRACE_LOADED_OBJECTS (list the libraries instead of running) and
 * LD_SHOW_AUXV (print the auxiliary vector first) do, and an override cannot remove a name.
 */
const LOADER_INERT_WHEN_EMPTY = new Set([
  'LD_ASSUME_KERNEL',
  'LD_AUDIT',
  'LD_BIND_NOT',
  'LD_BIND_NOW',
  'LD_DEBUG',
  'LD_DEBUG_OUTPUT',
  'LD_DYNAMIC_WEAK',
  'LD_HWCAP_MASK',
  'LD_LIBRARY_PATH',
  'LD_ORIGIN_PATH',
  'LD_POINTER_GUARD',
  'LD_PREFER_MAP_32BIT_EXEC',
  'LD_PRELOAD',
  'LD_PROFILE',
  'LD_PROFILE_OUTPUT',
  'LD_USE_LOAD_BIAS',
  'LD_VERBOSE',
  'LD_WARN',
])

/**
 * The exec `Env` of a helper in a container whose environment is `containerEnv` (Docker's
 * `NAME=value` list): the fixed values, and every other name the container sets emptied.
 * Throws a ConflictError (`helper_env_unsafe`) for a loader variable that acts even when
 * empty: no helper can run as intended there.
 */
export const helperExecEnv = (containerEnv: readonly string[]): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of containerEnv) {
    const eq = entry.indexOf('=')
    const name = eq < 0 ? entry : entry.slice(0, eq)
    if (name.startsWith('LD_') && !LOADER_INERT_WHEN_EMPTY.has(name)) {
      throw new ConflictError(
        `the container's environment sets ${name}, which changes how every program runs: ` +
          'the service cannot run its helper commands there',
        'helper_env_unsafe',
      )
    }
    env[name] = ''
  }
  return { ...env, ...FIXED }
}

/** `argv` run by `env -i` with the fixed values and `extra` as its whole environment. */
export const cleanCommand = (argv: string[], extra: Record<string, string> = {}): string[] => [
  '/usr/bin/env',
  '-i',
  ...Object.entries({ ...FIXED, ...extra }).map(([k, v]) => `${k}=${v}`),
  ...argv,
]
