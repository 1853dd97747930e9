import type { CoreContext } from '../context.ts'
import type { AgentPlugin } from '../plugin/contract.ts'
import { canSpawn } from '../runtime.ts'
import { SpawnerError } from '../errors.ts'
import type { WorkerRecord } from '../worker-record.ts'
import { AcpProcess } from './agent-process.ts'
import { decidePermission, permissionOutcome, type PermissionRequest } from './permission.ts'

/** Each service's ACP agents, one per worker, while they run. */
const registries = new WeakMap<CoreContext, Map<string, Promise<AcpProcess>>>()

const registryOf = (ctx: CoreContext) => {
  let live = registries.get(ctx)
  if (live) return live
  live = new Map()
  registries.set(ctx, live)
  // A worker that is paused, deleted or failed loses its agent: its stdin is closed, so it ends
  // by itself (a paused one when it runs again); a removed container takes it along anyway.
  ctx.events.subscribe((e) => {
    if (e.type === 'status' && e.state !== 'running' && e.state !== 'creating') {
      stopAcpAgent(ctx, e.workerId)
    }
  })
  return live
}

/** Lets a worker's ACP agent go (see `registryOf`); the next prompt starts a new one. */
export const stopAcpAgent = (ctx: CoreContext, workerId: string): void => {
  const live = registries.get(ctx)
  const known = live?.get(workerId)
  if (!known) return
  live!.delete(workerId)
  void known.then((p) => p.end()).catch(() => {})
}

/**
 * The worker's ACP agent: the one running, or a new one (the old one ended, or there was none),
 * started with the worker's env and the plugin's. Two prompts at once share one start.
 */
export const acpAgentFor = async (
  ctx: CoreContext,
  record: WorkerRecord,
  agent: AgentPlugin,
): Promise<AcpProcess> => {
  const live = registryOf(ctx)
  const known = live.get(record.workerId)
  if (known) {
    const p = await known.catch(() => undefined)
    if (p && !p.ended && p.containerId === record.containerId) return p
    // One left in a container the worker no longer runs in (a restore replaced it) goes.
    if (p && !p.ended) p.end()
    // Another prompt may have replaced it meanwhile: take that one.
    if (live.has(record.workerId) && live.get(record.workerId) !== known) {
      return acpAgentFor(ctx, record, agent)
    }
    if (live.get(record.workerId) === known) live.delete(record.workerId)
  }
  const { runtime } = ctx
  const acp = agent.acp
  if (!acp) throw new Error(`agent '${agent.name}' declares no acp command`)
  if (!canSpawn(runtime)) {
    throw new SpawnerError(
      'agent_error',
      `agent '${agent.name}' speaks ACP, which needs a runtime that holds a command's stdin open; this one cannot`,
    )
  }
  const workerId = record.workerId
  const starting = AcpProcess.start({
    runtime,
    containerId: record.containerId,
    argv: acp.argv,
    env: { ...record.env, ...acp.env },
    workdir: record.workdir,
    ...(acp.mode ? { mode: acp.mode } : {}),
    logger: ctx.logger,
    onRequest: async (method, params) => {
      if (method !== 'session/request_permission') throw new Error(`${method} is not offered`)
      const request = params as PermissionRequest
      const decision = decidePermission(record, request)
      ctx.logger.info('acp permission request', { workerId, decision })
      return permissionOutcome(decision, request)
    },
  })
  live.set(workerId, starting)
  starting.catch(() => {
    if (live.get(workerId) === starting) live.delete(workerId)
  })
  return starting
}

/** Kills the worker's ACP agent (one that did not stop when asked); the next prompt starts anew. */
export const killAcpAgent = async (ctx: CoreContext, workerId: string): Promise<void> => {
  const live = registries.get(ctx)
  const known = live?.get(workerId)
  if (!known) return
  live!.delete(workerId)
  const p = await known.catch(() => undefined)
  await p?.kill()
}
