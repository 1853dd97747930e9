import type { WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, PayloadTooLargeError } from './errors.ts'
import { configFilePath, fileRoots, resolveFilePath } from './paths.ts'
import type { Plugin } from './plugin/contract.ts'
import type { WorkerPolicy } from './policy.ts'
import { utf8Encode } from './bytes.ts'

/** A file to write into a worker at create. */
export interface FileToWrite {
  path: string
  content: Uint8Array
  mode: number
}

/** Largest file a plugin's `hostFiles` may copy from the host. */
const MAX_HOST_FILE_BYTES = 1024 * 1024
const HOME = '/home/worker'

/** Refuses a lifetime over MAX_TTL_SECONDS (at create and at update). */
export const assertLifetime = (ttlSeconds: number, policy: WorkerPolicy) => {
  if (ttlSeconds <= policy.maxTtlSeconds) return
  throw new BadRequestError(`ttlSeconds: at most ${policy.maxTtlSeconds} (MAX_TTL_SECONDS)`, [
    { path: 'ttlSeconds', message: `at most ${policy.maxTtlSeconds}` },
  ])
}

/** Refuses a config file outside the worker's roots or over the size limit. */
export const assertConfigFiles = (config: WorkerConfig, maxFileBytes: number) => {
  for (const [key, content] of Object.entries(config.files)) {
    resolveFilePath(configFilePath(key, config.workdir), fileRoots(config.workdir), `files.${key}`)
    if (utf8Encode(content).length > maxFileBytes) {
      throw new PayloadTooLargeError(`files.${key}: larger than ${maxFileBytes} bytes`)
    }
  }
}

/** Reads the files plugins copy from the host (`hostFiles`), before anything starts. */
export const readHostFiles = async (
  ctx: CoreContext,
  plugins: readonly Plugin[],
): Promise<FileToWrite[]> => {
  const { hostEnv, readHostFile } = ctx.opts
  const out: FileToWrite[] = []
  for (const plugin of plugins) {
    for (const hf of plugin.hostFiles ?? []) {
      const dir = hostEnv[hf.fromEnv]
      if (!dir) continue
      const source = `${dir.replace(/\/+$/, '')}/${hf.file}`
      const field = [{ path: 'agent', message: `needs ${source}` }]
      if (!readHostFile) {
        throw new BadRequestError(
          `plugin '${plugin.name}' copies ${hf.fromEnv}/${hf.file} into workers, but this deployment cannot read ` +
            `files of its host: unset ${hf.fromEnv}`,
          field,
          'host_file_unavailable',
        )
      }
      let content: Uint8Array
      try {
        content = await readHostFile(source, MAX_HOST_FILE_BYTES)
      } catch (err) {
        throw new BadRequestError(
          `plugin '${plugin.name}': cannot read ${source} (from ${hf.fromEnv}): ${err instanceof Error ? err.message : String(err)}`,
          field,
          'host_file_unreadable',
          { cause: err },
        )
      }
      const path = hf.target.startsWith('~/') ? `${HOME}/${hf.target.slice(2)}` : hf.target
      out.push({ path, content, mode: hf.mode ?? 0o600 })
    }
  }
  return out
}

/** Refuses a container runtime (e.g. sysbox-runc) the engine does not have; never falls back to privileged. */
export const assertRuntime = async (
  ctx: CoreContext,
  runtime: string,
  plugins: readonly Plugin[],
) => {
  const available = await ctx.runtime.runtimes()
  if (available.includes(runtime)) return
  const by = plugins
    .filter((p) => p.container !== undefined)
    .map((p) => `'${p.name}'`)
    .join(', ')
  throw new BadRequestError(
    `${by} needs the container runtime '${runtime}', which this Docker Engine does not have ` +
      `(it has: ${available.join(', ') || 'none'}). Install it on the Docker host ` +
      `(for sysbox-runc: https://github.com/nestybox/sysbox/blob/master/docs/user-guide/install.md), ` +
      'register it in /etc/docker/daemon.json and restart dockerd. Privileged containers are never used instead.',
    [{ path: 'capabilities', message: `needs runtime '${runtime}'` }],
    'runtime_unavailable',
  )
}
