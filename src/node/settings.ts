import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { readSettings, type Settings } from '../settings.ts'

const defaultPluginsDir = fileURLToPath(new URL('../../plugins', import.meta.url))
const defaultNodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url))

/** Node's settings: the shared reader, with this host's name, the repository's plugins and its node_modules. */
export type NodeSettings = Settings & {
  PLUGINS_DIR: string
  PLUGIN_NODE_MODULES: string
  SPAWNER_INSTANCE: string
}

/** Parses the environment (see `settingsSchema` in src/settings.ts); the error names each bad variable. */
export const readNodeSettings = (env: NodeJS.ProcessEnv): NodeSettings => {
  const settings = readSettings(env)
  return {
    ...settings,
    PLUGINS_DIR: settings.PLUGINS_DIR ?? defaultPluginsDir,
    PLUGIN_NODE_MODULES: settings.PLUGIN_NODE_MODULES ?? defaultNodeModules,
    SPAWNER_INSTANCE:
      settings.SPAWNER_INSTANCE ??
      hostname()
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .slice(0, 63),
  }
}
