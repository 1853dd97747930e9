import { utf8Encode } from './bytes.ts'
import type { WorkerConfig } from './config.ts'
import { configFilePath, fileRoots } from './paths.ts'
import type { Plugin } from './plugin/contract.ts'
import type { FileToWrite } from './preflight.ts'
import type { PutFileOptions } from './runtime.ts'
import { pluginContext, pluginFiles } from './spec.ts'

/** One file a create writes into a worker. */
export interface CreateFile {
  path: string
  content: Uint8Array
  opts: PutFileOptions
}

/**
 * What a create writes into the container, in order: plugin files (CLI config, written from
 * `hostEnv`, the spawner's environment as the worker's plugins see it), host files, then the
 * config's own files, which may override them.
 */
export const filesFor = (
  config: WorkerConfig,
  workerId: string,
  plugins: readonly Plugin[],
  hostFiles: readonly FileToWrite[],
  hostEnv: Readonly<Record<string, string | undefined>>,
): CreateFile[] => {
  const pctx = pluginContext(config, workerId, hostEnv)
  const roots = fileRoots(config.workdir)
  return [
    ...pluginFiles(plugins, pctx).map((f) => ({
      path: f.path,
      content: utf8Encode(f.content),
      opts: { mode: 0o600, roots },
    })),
    ...hostFiles.map((f) => ({ path: f.path, content: f.content, opts: { mode: f.mode } })),
    ...Object.entries(config.files).map(([key, content]) => ({
      path: configFilePath(key, config.workdir),
      content: utf8Encode(content),
      opts: { roots },
    })),
  ]
}
