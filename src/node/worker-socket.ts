import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Server } from 'node:net'
import type { Server as HttpServer } from 'node:http'
import { attachEgressProxy, type EgressProxyOptions } from './egress-proxy.ts'
import { createAdaptorServer } from '@hono/node-server'
import type { WorkerApiSockets } from '../docker/docker-runtime.ts'
import { listenInSocketDir } from '../docker/socket-dir.ts'

/** Where the socket lives when WORKER_SOCKET_DIR is unset: one directory per instance. */
export const defaultWorkerSocketDir = (instance: string) =>
  join(homedir(), '.workers-spawner', 'run', instance)

/**
 * The worker API on a Unix socket, `<dir>/api.sock`, for the isolated workers of the
 * in-process Docker runtime: they have no network, and this socket, bind-mounted read-only,
 * is their only way to the service. Give it to `DockerRuntime` (every isolated container
 * mounts `dir`), then `listen` with the worker app, which must refuse unauthenticated calls.
 * The directory outlives the process, so workers that survive a restart find the new socket
 * where the old one was.
 *
 * @example
 * const socket = new WorkerSocket(dir)
 * const runtime = new DockerRuntime({ docker, workerApi: socket })
 * await socket.listen(createApp({ service, auth: { signer, required: true } }).fetch)
 */
export class WorkerSocket implements WorkerApiSockets {
  #server: Server | undefined

  constructor(readonly dir: string) {}

  /** The directory; it exists from the first call on, as a bind mount needs its source. */
  async dirFor(): Promise<string> {
    // A container may be created before `listen` (a warm pool filling at start-up): the
    // socket then appears in the directory it already mounts.
    await mkdir(this.dir, { recursive: true, mode: 0o755 })
    return this.dir
  }

  /**
   * Serves `fetch` on the socket, and with `egress` the egress proxy (CONNECT and absolute-form
   * requests, which the worker's in-container forwarder brings here too); returns its path.
   */
  async listen(
    fetch: (request: Request) => Response | Promise<Response>,
    egress?: EgressProxyOptions,
  ): Promise<string> {
    if (this.#server) throw new Error('the worker socket is already listening')
    const server = createAdaptorServer({ fetch }) as Server
    if (egress) attachEgressProxy(server as unknown as HttpServer, egress)
    const path = await listenInSocketDir(server, this.dir)
    this.#server = server
    return path
  }

  close(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (!server) return Promise.resolve()
    return new Promise<void>((resolve) => {
      server.close(() => resolve())
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    })
  }
}
