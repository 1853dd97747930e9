/**
 * How an isolated worker reaches the service: its container has no network, so the runtime
 * bind-mounts a host directory holding the worker API's Unix socket, read-only, here. The
 * agent can connect to the socket but cannot replace it.
 */
export const WORKER_API_DIR = '/run/workers-spawner/api'

/** The socket's file name, in the host directory and in `WORKER_API_DIR`. */
export const WORKER_API_SOCKET = 'api.sock'

/** ORCHESTRATOR_URL of an isolated worker: HTTP over the socket (the orchestrator CLI speaks it). */
export const WORKER_API_SOCKET_URL = `unix://${WORKER_API_DIR}/${WORKER_API_SOCKET}`
