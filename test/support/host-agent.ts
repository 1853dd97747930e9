import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import type { ContainerRuntime } from '../../src/core/runtime.ts'
import type { Logger } from '../../src/core/logger.ts'
import { createHostAgentApp, type HostAgentOptions } from '../../src/host-agent/app.ts'
import { RemoteRuntime } from '../../src/remote/remote-runtime.ts'
import { startNodeProcess, type NodeProcess } from './process.ts'
import type { AgentClientOptions } from '../../src/remote/agent-client.ts'

const ENTRY = fileURLToPath(new URL('../../src/host-agent.ts', import.meta.url))

/** A host agent app reached through `app.request` (no port), and a switch to take it away. */
export interface FakeAgent {
  app: ReturnType<typeof createHostAgentApp>
  remote: RemoteRuntime
  /** While true, every request fails as if the agent's host were unreachable. */
  down: boolean
  /** Requests made, as `METHOD /path`. */
  calls: string[]
}

/** A host agent over `runtime` that a `RemoteRuntime` calls in-process. */
export const fakeAgent = (
  name: string,
  runtime: ContainerRuntime,
  opts: Partial<HostAgentOptions> & { client?: Partial<AgentClientOptions> } = {},
): FakeAgent => {
  const token = 'fake-agent-token-0123456789'
  const app = createHostAgentApp({ runtime, token, name, ...opts })
  const agent: FakeAgent = {
    app,
    down: false,
    calls: [],
    remote: new RemoteRuntime({
      url: `http://${name}.test:8081`,
      name,
      token,
      ...opts.client,
      fetch: async (input, init) => {
        if (agent.down) {
          throw new TypeError('fetch failed', {
            cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
          })
        }
        agent.calls.push(`${init.method} ${new URL(input).pathname}`)
        return app.request(input, init)
      },
    }),
  }
  return agent
}

/** A host agent served in this process on 127.0.0.1 with a random port and token. */
export interface LocalAgent {
  url: string
  token: string
  runtime: RemoteRuntime
  close(): Promise<void>
}

/** Serves a host agent over `runtime` on a random loopback port; `runtime` is its client. */
export const startLocalAgent = async (
  runtime: ContainerRuntime,
  logger?: Logger,
): Promise<LocalAgent> => {
  const token = randomBytes(24).toString('hex')
  const app = createHostAgentApp({
    runtime,
    token,
    name: 'test-agent',
    ...(logger ? { logger } : {}),
  })
  let server!: ReturnType<typeof serve>
  const port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(info.port),
    )
    server.once('error', reject)
  })
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    token,
    runtime: new RemoteRuntime({ url, token, name: 'test-agent', ...(logger ? { logger } : {}) }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}

/** `src/host-agent.ts` running as its own process. */
export type AgentProcess = NodeProcess

/** Starts `src/host-agent.ts` (what `npm run host-agent` runs) and waits until it listens. */
export const startAgentProcess = async (
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<AgentProcess> => startNodeProcess(ENTRY, env, timeoutMs)
