import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { LABELS } from '../../src/core/labels.ts'
import { noopLogger, type Logger } from '../../src/core/logger.ts'
import { PluginRegistry, type PluginCandidate } from '../../src/core/plugin/registry.ts'
import { DockerRuntime } from '../../src/docker/docker-runtime.ts'
import { pluginCandidates } from '../../src/node/plugin-loader.ts'
import { readNodeSettings } from '../../src/node/settings.ts'
import { readSettings } from '../../src/settings.ts'
import { createSpawner } from '../../src/spawner.ts'
import { checkTarget, type CheckEnv } from './checks.ts'
import { CHECKS, type CheckId, type PluginReport } from './report.ts'
import { resolveTarget, type CheckTarget } from './target.ts'

export interface KitOptions {
  /** Base worker image (default: WORKER_IMAGE, else the service's default). */
  image?: string
  /** Where package names are looked up (default: PLUGIN_NODE_MODULES, else the service's node_modules). */
  nodeModules?: string
  /** The plugins a checked plugin may require (default: PLUGINS_DIR, else the project's `plugins/`). */
  pluginsDir?: string
  /** Plugins checked at once (default 1). */
  concurrency?: number
  logger?: Logger
  /** Called as each plugin's report is ready. */
  onReport?: (report: PluginReport) => void
}

/** The report of a plugin that could not even be found. */
const unresolved = (arg: string, reason: string): PluginReport => ({
  target: arg,
  plugin: arg,
  results: (Object.keys(CHECKS) as CheckId[]).map((id, i) =>
    i === 0
      ? { id, status: 'fail', ms: 0, detail: reason }
      : { id, status: 'skip', ms: 0, detail: 'schema failed' },
  ),
  ms: 0,
  ok: false,
})

/**
 * Runs the conformance checks on each plugin (a folder, or an installed package's name): loads
 * it with the project's plugins (so its `requires` resolve), builds its image, starts workers on
 * the local Docker Engine through the real service, and drives the agent against the stub model.
 * Every container it starts carries its own instance label and is removed at the end.
 */
export const checkPlugins = async (
  args: readonly string[],
  opts: KitOptions = {},
): Promise<PluginReport[]> => {
  const env = readNodeSettings(process.env)
  const logger = opts.logger ?? noopLogger
  const image = opts.image ?? env.WORKER_IMAGE
  const nodeModules = opts.nodeModules ?? env.PLUGIN_NODE_MODULES
  const pluginsDir = opts.pluginsDir ?? env.PLUGINS_DIR

  const reports = new Map<string, PluginReport>()
  const targets: CheckTarget[] = []
  for (const arg of args) {
    try {
      targets.push(resolveTarget(arg, { nodeModules, pluginsDir }))
    } catch (err) {
      reports.set(arg, unresolved(arg, (err as Error).message))
    }
  }
  // The checked plugins replace project plugins of the same name.
  const checked = new Set(targets.map((t) => t.name))
  const candidates: PluginCandidate[] = [
    ...pluginCandidates(pluginsDir).filter((c) => !checked.has(c.name)),
    ...targets.map((t) => t.candidate),
  ]
  const registry = await PluginRegistry.load(candidates)

  const docker = new Dockerode()
  const runtime = new DockerRuntime({ docker, logger })
  await runtime.ping()
  if (!(await runtime.hasImage(image))) {
    throw new Error(
      `worker image ${image} is missing: build it (npm run image:worker) or set WORKER_IMAGE`,
    )
  }
  const instance = `plugin-check-${randomBytes(4).toString('hex')}`
  // Hermetic: no secret of the operator's reaches a checked plugin; required ones get a stand-in.
  const hostEnv = Object.fromEntries(
    registry.ordered.flatMap((p) =>
      (p.secrets ?? []).filter((s) => s.required).map((s) => [s.name, 'plugin-check']),
    ),
  )
  const spawner = createSpawner({
    settings: readSettings({ WORKER_IMAGE: image, SPAWNER_INSTANCE: instance, MAX_WORKERS: '0' }),
    runtime,
    plugins: () => registry,
    hostEnv,
    secret: randomBytes(32).toString('hex'),
    logger,
  })
  const app = spawner.api()
  const checkEnv: CheckEnv = {
    registry,
    runtime,
    image,
    logger,
    labels: { 'plugin-check': instance },
    call: async (method, path, body) => {
      const res = await app.request(path, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      })
      const text = await res.text()
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = { error: { code: 'not_json', message: text.slice(0, 300) } }
      }
      return { status: res.status, json }
    },
  }
  try {
    const queue = [...targets]
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const report = await checkTarget(t, checkEnv)
        reports.set(t.arg, report)
        opts.onReport?.(report)
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, worker))
  } finally {
    await spawner.close()
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.instance}=${instance}`] },
    })
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    )
  }
  return args.map((arg) => reports.get(arg)!)
}
