import type { TokenSigner } from './auth/jwt.ts'
import type { ContainerNetwork } from './config.ts'
import { utf8Encode } from './bytes.ts'
import type { ContainerRuntime } from './runtime.ts'
import { WORKER_API_SOCKET_URL } from './worker-api.ts'

/**
 * The tool a worker's token carries when the worker asks before tool calls: it lets its agent's
 * hook ask for its own calls (`request_permission`), and nothing else.
 */
export const PERMIT_TOOL = 'permit'

/** Where a worker finds its current token (refreshed when `update` extends its TTL). */
export const TOKEN_FILE = '/home/worker/.orchestrator/token'

/** Where a worker reaches the service: the worker API socket, or `url` for an open worker. */
export const orchestratorUrl = (tokens: { url: string } | undefined, network?: ContainerNetwork) =>
  network === 'open' ? (tokens?.url ?? '') : WORKER_API_SOCKET_URL

/**
 * ORCHESTRATOR_* for a worker (empty when the service signs no tokens). An isolated worker
 * (the default) reaches the service only through the worker API socket; an open one at `url`.
 */
export const orchestratorEnv = async (
  tokens: { signer: TokenSigner; url: string } | undefined,
  workerId: string,
  config: {
    allowedTools: string[]
    ttlSeconds: number
    network?: ContainerNetwork
    /** The worker asks before tool calls: its token may `permit` (see PERMIT_TOOL). */
    permit?: boolean
  },
  from: Date,
): Promise<Record<string, string>> => {
  if (!tokens) return {}
  const tools = config.permit
    ? [...new Set([...config.allowedTools, PERMIT_TOOL])]
    : config.allowedTools
  const token = await tokens.signer.sign({
    sub: workerId,
    tools,
    exp: Math.floor(from.getTime() / 1000) + config.ttlSeconds,
  })
  return {
    ORCHESTRATOR_URL: orchestratorUrl(tokens, config.network),
    ORCHESTRATOR_TOKEN: token,
    ORCHESTRATOR_ALLOWED_TOOLS: tools.join(','),
  }
}

/** The token file the orchestrator CLI prefers over its env (it outlives TTL updates). */
export const writeToken = async (
  runtime: ContainerRuntime,
  containerId: string,
  env: Record<string, string>,
) => {
  if (!env.ORCHESTRATOR_TOKEN) return
  await runtime.putFile(containerId, TOKEN_FILE, utf8Encode(env.ORCHESTRATOR_TOKEN), {
    mode: 0o600,
    roots: ['/home/worker'],
  })
}
