/**
 * Every error code the service answers, each with the kind of failure it is. This table is the
 * one list of codes: `SpawnerError` takes only a code from it, and the edges turn its kind into
 * an HTTP status (`httpStatusOf`). The codes are part of the API (HTTP bodies, Redis answers,
 * the host agent's wire): a code is added here, never renamed.
 */

/** What went wrong, as far as a caller is concerned; an edge maps it to its own status. */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'unsupported_media_type'
  | 'too_many'
  | 'cancelled'
  | 'internal'
  | 'bad_gateway'
  | 'unavailable'

export const ERROR_CODES = {
  // The request is malformed or asks for what this deployment does not allow.
  bad_request: 'bad_request',
  /** A refusal of Hono's own (HTTPException): its status is Hono's, not this table's. */
  http_error: 'bad_request',
  path_not_allowed: 'bad_request',
  permission_denied: 'bad_request',
  mount_not_allowed: 'bad_request',
  capability_not_allowed: 'bad_request',
  runtime_not_allowed: 'bad_request',
  runtime_conflict: 'bad_request',
  runtime_unavailable: 'bad_request',
  network_unavailable: 'bad_request',
  missing_secret: 'bad_request',
  missing_requirement: 'bad_request',
  plugin_error: 'bad_request',
  plugin_unavailable: 'bad_request',
  host_file_unavailable: 'bad_request',
  host_file_unreadable: 'bad_request',
  /** A resumed session is of another agent or workdir than the new worker's. */
  resume_mismatch: 'bad_request',
  /** The worker's agent has no way to ask for permissions (its plugin declares none). */
  permissions_unsupported: 'bad_request',

  // No credentials, or credentials that do not check out.
  unauthorized: 'unauthorized',
  worker_token_required: 'unauthorized',

  // A known caller, not allowed to do this.
  forbidden: 'forbidden',
  host_not_allowed: 'forbidden',
  cross_origin: 'forbidden',
  tool_not_allowed: 'forbidden',
  not_your_worker: 'forbidden',
  not_your_instance: 'forbidden',
  not_wider_than_parent: 'forbidden',
  /** A preview link that is forged, expired, or made for another worker or port. */
  preview_link_invalid: 'forbidden',
  quota_exceeded: 'forbidden',
  ttl_not_allowed: 'forbidden',
  network_not_allowed: 'forbidden',
  /** The operator does not let workers skip permissions (PERMISSIONS_MIN=ask). */
  permissions_required: 'forbidden',
  /** A worker (or a tree above it) has spent its model budget. */
  budget_exceeded: 'forbidden',

  // No such worker, plugin, file, container, exec or route.
  not_found: 'not_found',
  route_not_found: 'not_found',
  worker_not_found: 'not_found',
  unknown_plugin: 'not_found',
  no_such_container: 'not_found',
  no_such_exec: 'not_found',
  /** No transcript kept of that worker (never prompted, or pruned). */
  transcript_not_found: 'not_found',
  /** No saved session of that id. */
  session_not_found: 'not_found',
  checkpoint_not_found: 'not_found',
  permission_request_not_found: 'not_found',

  // The worker (or container) is in a state that does not allow the operation.
  conflict: 'conflict',
  worker_busy: 'conflict',
  agent_unavailable: 'conflict',
  stream_not_forwarded: 'conflict',
  helper_env_unsafe: 'conflict',
  /** A checkpoint image that workers restored or forked from still run on. */
  checkpoint_in_use: 'conflict',
  /** The permission request was answered already, or timed out. */
  permission_request_closed: 'conflict',
  /** The worker skips permissions: it has no requests. */
  permissions_off: 'conflict',
  /** Terminals need the worker's container here: not on a host agent, not another instance's. */
  terminal_unavailable: 'conflict',
  /** The worker's runtime cannot watch files. */
  watch_unavailable: 'conflict',

  // A body, file or answer over its cap.
  payload_too_large: 'too_large',

  // A body in a media type the route does not read.
  unsupported_media_type: 'unsupported_media_type',

  // A limit on things at once: try again when one is done.
  too_many_commands: 'too_many',
  worker_limit: 'too_many',
  /** A worker has as many model calls running through the gateway as it may. */
  too_many_model_calls: 'too_many',
  /** A worker, or this instance, has as many terminals open as it may. */
  too_many_terminals: 'too_many',
  /** As many preview connections are open as PREVIEW_MAX_CONNECTIONS allows. */
  too_many_previews: 'too_many',
  /** A worker is watched by, or a caller holds, as many file watches as it may. */
  too_many_watches: 'too_many',

  // The caller stopped waiting.
  cancelled: 'cancelled',

  // Something broke in the service itself.
  internal: 'internal',
  dead_lettered: 'internal',
  image_build_failed: 'internal',
  exec_stdin_dir: 'internal',

  // A dependency answered, but not usefully.
  docker_error: 'bad_gateway',
  agent_error: 'bad_gateway',
  host_agent_error: 'bad_gateway',
  remote_error: 'bad_gateway',
  worker_api_unreachable: 'bad_gateway',
  /** The model gateway's upstream did not answer. */
  model_upstream_error: 'bad_gateway',
  /** Nothing listens on that port inside the worker. */
  port_not_listening: 'bad_gateway',
  /** The server on the worker's port broke off or answered no HTTP. */
  preview_upstream_error: 'bad_gateway',

  // A dependency cannot be reached or is busy, or this instance is not ready: try again.
  unavailable: 'unavailable',
  not_ready: 'unavailable',
  not_configured: 'unavailable',
  shutting_down: 'unavailable',
  interrupted: 'unavailable',
  owner_timeout: 'unavailable',
  helper_timeout: 'unavailable',
  client_too_slow: 'unavailable',
  too_many_streams: 'unavailable',
  /** The server on the worker's port sent no response headers in time (PREVIEW_TIMEOUT_MS). */
  preview_timeout: 'unavailable',
  host_agent_unauthorized: 'unavailable',
} as const satisfies Record<string, ErrorKind>

/** A code the service answers (see `ERROR_CODES`). */
export type ErrorCode = keyof typeof ERROR_CODES

/** The codes of one kind: what each error class accepts. */
export type CodeOf<K extends ErrorKind> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C] extends K ? C : never
}[ErrorCode]

/** True when `code` (read from a wire) is one this version knows. */
export const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)

/** The kind of failure a code is. */
export const kindOf = (code: ErrorCode): ErrorKind => ERROR_CODES[code]
