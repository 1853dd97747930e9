import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { workerConfigSchema, type WorkerConfigInput } from '../../src/core/config.ts'
import { ImageResolver } from '../../src/core/images.ts'
import type { Logger } from '../../src/core/logger.ts'
import type { PluginRegistry } from '../../src/core/plugin/registry.ts'
import { resolvePlugins } from '../../src/core/resolve.ts'
import type { ContainerRuntime } from '../../src/core/runtime.ts'
import { anthropic } from '../../test/support/stub-model/anthropic.ts'
import { gemini } from '../../test/support/stub-model/gemini.ts'
import { openaiChat } from '../../test/support/stub-model/openai-chat.ts'
import { openaiResponses } from '../../test/support/stub-model/openai-responses.ts'
import { StubModel, type ProviderHandler } from '../../test/support/stub-model/server.ts'
import { agentChecks, errorOf, type Call } from './agent-checks.ts'
import { readCheckConfig, workerEnv, type CheckConfig, type ConfigSource } from './config.ts'
import {
  AGENT_CHECKS,
  CHECKS,
  Recorder,
  fail,
  na,
  pass,
  type CheckId,
  type PluginReport,
} from './report.ts'
import { settingsOf, unnamedIn } from './settings-read.ts'
import type { CheckTarget } from './target.ts'

/** What the checks run against: a service, its registry and the Docker runtime under it. */
export interface CheckEnv {
  registry: PluginRegistry
  runtime: ContainerRuntime
  /** Base worker image. */
  image: string
  /** JSON calls to the service's HTTP API (the operator's, as `curl` would make them). */
  call: Call
  /** Put on every worker, so the run can remove what it made. */
  labels: Record<string, string>
  logger: Logger
}

/** Every plugin `name` requires, transitively, without itself. */
const requiresOf = (registry: PluginRegistry, name: string): string[] => {
  const out = new Set<string>()
  const visit = (n: string) => {
    for (const dep of registry.get(n)?.requires ?? []) {
      if (out.has(dep)) continue
      out.add(dep)
      visit(dep)
    }
  }
  visit(name)
  out.delete(name)
  return [...out]
}

/** A stub handler that answers every request with a 500 while `state.failing` is set. */
const failingGate = (state: { failing: boolean }): ProviderHandler => ({
  name: 'failing',
  match: () => state.failing,
  handle: ({ res }) => {
    res.writeHead(500, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        type: 'error',
        error: { type: 'api_error', message: 'plugin-check: the endpoint is failing' },
      }),
    )
  },
})

/**
 * Runs every check on one plugin against `env` and returns what each found. Never throws: a
 * check that cannot run has failed (and the checks after it that need it are skipped).
 */
export const checkTarget = async (target: CheckTarget, env: CheckEnv): Promise<PluginReport> => {
  const started = Date.now()
  const rec = new Recorder()
  const extra: Partial<PluginReport> = {}
  const report = (): PluginReport => ({
    target: target.arg,
    plugin: target.name,
    ...extra,
    results: rec.results,
    ms: Date.now() - started,
    ok: rec.results.every((r) => r.status !== 'fail'),
  })

  const plugin = env.registry.get(target.name)
  let loaded: { config: CheckConfig; source: ConfigSource } | undefined
  await rec.run('schema', () => {
    const errors = env.registry.errors.filter((e) => e.plugin === target.name)
    if (errors.length > 0 || !plugin)
      return fail(errors.map((e) => `${e.field}: ${e.reason}`).join('; ') || 'not loaded')
    loaded = readCheckConfig(target.dir, target.name, target.bundled)
    return pass(`${plugin.kind} ${plugin.name}@${plugin.version}`)
  })
  if (!plugin || !loaded) {
    rec.skip(Object.keys(CHECKS) as CheckId[], 'schema failed')
    return report()
  }
  const { config, source } = loaded
  const agent = plugin.kind === 'agent'
  extra.kind = plugin.kind
  extra.configSource = source
  const later: CheckId[] = ['worker', ...(agent ? AGENT_CHECKS : [])]

  await rec.run('readme', () => {
    const file = join(target.dir, 'README.md')
    if (!existsSync(file)) return fail(`no README.md in ${target.dir}`)
    const names = settingsOf(plugin)
    const missing = unnamedIn(readFileSync(file, 'utf8'), names)
    if (missing.length > 0) return fail(`does not name ${missing.join(', ')}`)
    return pass(names.length > 0 ? `names ${names.join(', ')}` : 'the plugin reads no settings')
  })

  const state = { failing: false }
  const stub =
    agent && config.model
      ? new StubModel([failingGate(state), anthropic, openaiChat, openaiResponses, gemini])
      : undefined
  const workerConfig: WorkerConfigInput = {
    agent: agent ? plugin.name : 'shell',
    capabilities: [
      ...new Set([
        ...(agent ? [] : [plugin.name]),
        ...requiresOf(env.registry, plugin.name),
        ...config.capabilities,
      ]),
    ],
    // The CLI reaches the stub model on the Docker host; a worker without a model needs no network.
    network: stub ? 'open' : 'isolated',
    ttlSeconds: 3600,
    labels: env.labels,
  }
  let workerId: string | undefined
  try {
    const image = await rec.run('image', async () => {
      const resolved = resolvePlugins(env.registry, workerConfigSchema.parse(workerConfig))
      const { tag, built } = await new ImageResolver(env.runtime, env.logger).resolve(
        env.image,
        resolved.ordered,
      )
      return pass(`${built ? 'built' : 'reused'} ${tag}`)
    })
    if (image.status !== 'pass') {
      rec.skip(later, 'the image did not build')
      return report()
    }
    if (stub) await stub.start()
    workerConfig.env = workerEnv(config, stub?.urlForContainers() ?? '')
    const worker = await rec.run('worker', async () => {
      const created = await env.call('POST', '/v1/workers', workerConfig)
      // The one refusal that is the host's, not the plugin's: a runtime this engine lacks.
      if (created.json?.error?.code === 'runtime_unavailable')
        return na(`this Docker Engine cannot run it: ${created.json.error.message}`)
      if (created.status !== 201) return fail(errorOf(created))
      workerId = created.json.workerId as string
      const ran = await env.call('POST', `/v1/workers/${workerId}/commands`, {
        argv: ['true'],
        timeoutMs: 30_000,
      })
      if (ran.status !== 200 || ran.json.exitCode !== 0)
        return fail(
          `\`true\` in the worker: ${ran.status === 200 ? `exit ${ran.json.exitCode}` : errorOf(ran)}`,
        )
      return pass(workerId)
    })
    if (!agent) return report()
    if (worker.status !== 'pass' || !workerId) {
      rec.skip(AGENT_CHECKS, 'no worker')
      return report()
    }
    await agentChecks(rec, {
      workerId,
      config,
      call: env.call,
      ...(stub ? { stub } : {}),
      setFailing: (failing) => (state.failing = failing),
      hint:
        source === 'none'
          ? ' (no plugin-check.json: the kit does not know how to point this CLI at the stub model)'
          : '',
    })
    return report()
  } finally {
    if (workerId) await env.call('DELETE', `/v1/workers/${workerId}`).catch(() => undefined)
    await stub?.stop()
  }
}
