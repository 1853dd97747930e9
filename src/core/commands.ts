/**
 * What each command is, as data for the adapters: the permission a worker needs, whom a
 * worker may aim it at, whether it streams or carries bytes, and its HTTP shape. The catalog
 * (`catalog.ts`) adds schemas and code; the HTTP routes, the Redis consumer, the OpenAPI
 * document and the `orchestrator` CLI are built from this table and never name a command.
 * Free of zod and of the service, so the CLI bundles it without either.
 */

/**
 * Whom a worker may aim a command at; operators may aim any command anywhere.
 * - `worker`: the input's `workerId`, which must be the caller or a worker it spawned.
 * - `spawn`: nobody yet; a worker's call makes a sub-worker of it.
 * - `listing`: the workers it lists, cut down to the caller and those it spawned (`lists`).
 * - `operator`: operators only.
 */
export type Scope = 'worker' | 'spawn' | 'listing' | 'operator'

/** A query parameter read into an input field in a form of its own. */
export interface QueryField {
  /** The input field it fills. */
  field: string
  /** `pairs`: repeatable `key=value` values, read into a record. */
  form: 'pairs'
  description: string
}

/** How a command is exposed over HTTP. */
export interface HttpBinding {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** Hono-style path. */
  path: string
  /** The input field each path parameter fills. */
  params?: Readonly<Record<string, string>>
  /**
   * The body: `json`, a JSON object whose keys are input fields; `config`, a JSON object that is
   * the one field `bodyField`; `raw`, bytes that are the field `bytes.input` (see CommandSpec);
   * `none`. Query parameters are input fields of the same name, except those in `query` and
   * the stream switch.
   */
  body: 'json' | 'config' | 'raw' | 'none'
  bodyField?: string
  /** Query parameters read in a form of their own. */
  query?: Readonly<Record<string, QueryField>>
  /** `file`: the answer is the file's bytes unless the request accepts JSON (`bytes.output`). */
  response?: 'json' | 'file'
  status?: 200 | 201
  /**
   * What asks for the command's stream (see `stream`): an Accept type, a query switch, or
   * nothing (`always`: the route only streams).
   */
  streamWhen?:
    { accept: string } | { query: string; value: string; description: string } | { always: true }
}

/** A command that can stream its progress instead of answering once. */
export interface StreamSpec {
  /** The event each item is sent as. */
  item: string
  /** The closing event; it carries the command's result (or `{}` when it has none). */
  end: string
  /** Events are numbered 1, 2, … (an SSE `id`), the error event too. */
  numbered: boolean
  /**
   * How another instance relays it: `output`, its items are the command's output chunks
   * (`{ stream, data }`), which reach it as events; `none`, only the owner can stream it.
   */
  relay: 'output' | 'none'
}

/** A command whose input or output is a file's bytes. In JSON they travel in base64. */
export interface BytesSpec {
  /** The input field the bytes fill. */
  input?: string
  /** The output field that holds the bytes. */
  output?: string
  /** The field that says how `input`/`output` is encoded (`base64` for bytes). */
  encoding: string
  /** The output field naming the file the bytes are (with `output`). */
  path?: string
}

/** What the adapters need to know of one command. */
export interface CommandSpec {
  summary: string
  /** The tool a worker token needs to call it (see allowedTools). */
  permission: string
  scope: Scope
  /** For `listing`: the output field that lists workers (each with a `workerId`). */
  lists?: string
  /** The input field holding the command's own time limit (ms); forwarding waits that more. */
  timeoutField?: string
  /**
   * Runs beside the worker's other requests instead of before the next one: a long-lived call
   * (a watch) that the Redis consumer must not queue that worker's later requests behind.
   */
  background?: boolean
  stream?: StreamSpec
  bytes?: BytesSpec
  http: HttpBinding
}

const byId = { id: 'workerId' } as const
const byCheckpoint = { id: 'workerId', checkpointId: 'checkpointId' } as const

/** Every command, by name. */
export const commandTable = {
  create: {
    summary:
      'Create a worker from a WorkerConfig (builds or reuses its image, starts the container); SSE with Accept: text/event-stream (progress of the image build, then result)',
    permission: 'spawn',
    scope: 'spawn',
    // Never forwarded: a create runs on the instance that takes it.
    stream: { item: 'progress', end: 'result', numbered: true, relay: 'none' },
    http: {
      method: 'post',
      path: '/v1/workers',
      body: 'config',
      bodyField: 'config',
      status: 201,
      streamWhen: { accept: 'text/event-stream' },
    },
  },
  list: {
    summary: 'List workers, optionally filtered by labels',
    permission: 'status',
    scope: 'listing',
    lists: 'workers',
    http: {
      method: 'get',
      path: '/v1/workers',
      body: 'none',
      query: { label: { field: 'labels', form: 'pairs', description: 'key=value, repeatable' } },
    },
  },
  status: {
    summary: "A worker's state, plugins, times and deadlines",
    permission: 'status',
    scope: 'worker',
    http: { method: 'get', path: '/v1/workers/:id', params: byId, body: 'none' },
  },
  send_command: {
    summary:
      'Run a prompt through the agent, or a shell/argv command; SSE with Accept: text/event-stream (output, agent and result events)',
    permission: 'send',
    scope: 'worker',
    timeoutField: 'timeoutMs',
    stream: { item: 'output', end: 'result', numbered: true, relay: 'output' },
    http: {
      method: 'post',
      path: '/v1/workers/:id/commands',
      params: byId,
      body: 'json',
      streamWhen: { accept: 'text/event-stream' },
    },
  },
  send_file: {
    summary: 'Write a file into the worker (HTTP: raw body bytes, ?path=&mode=)',
    permission: 'file',
    scope: 'worker',
    bytes: { input: 'content', encoding: 'encoding' },
    http: { method: 'put', path: '/v1/workers/:id/files', params: byId, body: 'raw' },
  },
  read_file: {
    summary: 'Read a file from the worker (HTTP: raw bytes, or JSON with Accept: application/json)',
    permission: 'file',
    scope: 'worker',
    bytes: { output: 'content', encoding: 'encoding', path: 'path' },
    http: {
      method: 'get',
      path: '/v1/workers/:id/files',
      params: byId,
      body: 'none',
      response: 'file',
    },
  },
  list_files: {
    summary:
      'List a directory in the worker as its user, under the same roots as read_file (?path=, default the workdir; ?limit=, default 1000)',
    permission: 'file',
    scope: 'worker',
    http: { method: 'get', path: '/v1/workers/:id/dir', params: byId, body: 'none' },
  },
  logs: {
    summary: "The worker container's log lines (?tail=N&since=unix; follow=1 streams SSE)",
    permission: 'logs',
    scope: 'worker',
    stream: { item: 'log', end: 'end', numbered: false, relay: 'none' },
    http: {
      method: 'get',
      path: '/v1/workers/:id/logs',
      params: byId,
      body: 'none',
      streamWhen: { query: 'follow', value: '1', description: 'stream as SSE' },
    },
  },
  watch: {
    summary:
      'Watch a directory in the worker as its user, under the same roots as read_file (?path=, default the workdir; ?recursive=, default true). HTTP: SSE of file_changed events until the client leaves or the worker goes; Redis: file_changed events on the event channels for durationMs, then one answer',
    permission: 'file',
    scope: 'worker',
    timeoutField: 'durationMs',
    background: true,
    stream: { item: 'file_changed', end: 'end', numbered: true, relay: 'none' },
    http: {
      method: 'get',
      path: '/v1/workers/:id/files/watch',
      params: byId,
      body: 'none',
      streamWhen: { always: true },
    },
  },
  pause: {
    summary: 'Freeze the worker (docker pause)',
    permission: 'pause',
    scope: 'worker',
    http: { method: 'post', path: '/v1/workers/:id/pause', params: byId, body: 'none' },
  },
  resume: {
    summary: 'Thaw a paused worker',
    permission: 'pause',
    scope: 'worker',
    http: { method: 'post', path: '/v1/workers/:id/resume', params: byId, body: 'none' },
  },
  update: {
    summary: "Change a worker's TTL or idle time",
    permission: 'update',
    scope: 'worker',
    http: { method: 'patch', path: '/v1/workers/:id', params: byId, body: 'json' },
  },
  delete: {
    summary: 'Stop and remove the worker',
    permission: 'delete',
    scope: 'worker',
    http: { method: 'delete', path: '/v1/workers/:id', params: byId, body: 'none' },
  },
  transcript: {
    summary:
      "A worker's prompt turns (prompt, agent updates, reply or error), kept after it is deleted until TRANSCRIPT_RETENTION_DAYS; ?sessionId= keeps one session's",
    permission: 'transcript',
    scope: 'worker',
    http: { method: 'get', path: '/v1/workers/:id/transcript', params: byId, body: 'none' },
  },
  respond: {
    summary: 'Publish a response event for the worker (an agent talking back mid-task)',
    permission: 'respond',
    scope: 'worker',
    http: { method: 'post', path: '/v1/workers/:id/respond', params: byId, body: 'json' },
  },
  checkpoint: {
    summary:
      "Save the worker's files (its agent's session among them) as a checkpoint; not memory or processes",
    permission: 'checkpoint',
    scope: 'worker',
    http: {
      method: 'post',
      path: '/v1/workers/:id/checkpoints',
      params: byId,
      body: 'none',
      status: 201,
    },
  },
  list_checkpoints: {
    summary: "The worker's checkpoints, oldest first",
    permission: 'checkpoint',
    scope: 'worker',
    http: { method: 'get', path: '/v1/workers/:id/checkpoints', params: byId, body: 'none' },
  },
  delete_checkpoint: {
    summary: 'Delete a checkpoint (409 while a restored or forked worker runs from it)',
    permission: 'checkpoint',
    scope: 'worker',
    http: {
      method: 'delete',
      path: '/v1/workers/:id/checkpoints/:checkpointId',
      params: byCheckpoint,
      body: 'none',
    },
  },
  restore: {
    summary:
      'Put the worker back to a checkpoint: same worker id, a new container, its own token (409 while a command runs)',
    permission: 'checkpoint',
    scope: 'worker',
    http: {
      method: 'post',
      path: '/v1/workers/:id/checkpoints/:checkpointId/restore',
      params: byCheckpoint,
      body: 'none',
    },
  },
  fork: {
    summary:
      'New workers from a checkpoint of this one (default: one taken now): same files and conversation, each its own credentials',
    permission: 'spawn',
    scope: 'worker',
    http: {
      method: 'post',
      path: '/v1/workers/:id/fork',
      params: byId,
      body: 'json',
      status: 201,
    },
  },
  request_permission: {
    summary:
      "A worker's own agent asks to run a tool (the in-container `orchestrator permit`): decided by its policy at once, or waits up to waitMs for an answer; ask again with the same requestId until decided",
    permission: 'permit',
    scope: 'worker',
    timeoutField: 'waitMs',
    http: { method: 'post', path: '/v1/workers/:id/permissions', params: byId, body: 'json' },
  },
  answer_permission: {
    summary:
      "Allow or deny a worker's pending tool call (always: allow that tool from now on); a worker may answer only its sub-workers' requests, and only when they name it their approver",
    permission: 'answer',
    scope: 'worker',
    http: {
      method: 'post',
      path: '/v1/workers/:id/permissions/:requestId',
      params: { id: 'workerId', requestId: 'requestId' },
      body: 'json',
    },
  },
  permissions: {
    summary: "A worker's pending permission requests and how it asks",
    permission: 'status',
    scope: 'worker',
    http: { method: 'get', path: '/v1/workers/:id/permissions', params: byId, body: 'none' },
  },
  plugins: {
    summary: 'Loaded plugins, their versions, and load errors',
    permission: 'plugins',
    scope: 'operator',
    http: { method: 'get', path: '/v1/plugins', body: 'none' },
  },
  build_image: {
    summary:
      'Build the image of a plugin set ahead of time, so the first create with it starts at once (built: false when it was there); SSE with Accept: text/event-stream (progress, then result)',
    permission: 'images',
    scope: 'operator',
    stream: { item: 'progress', end: 'result', numbered: true, relay: 'none' },
    http: {
      method: 'post',
      path: '/v1/images',
      body: 'json',
      streamWhen: { accept: 'text/event-stream' },
    },
  },
  pools: {
    summary: 'Warm pools (WARM_POOLS) and how many started containers each holds now',
    permission: 'plugins',
    scope: 'operator',
    http: { method: 'get', path: '/v1/pools', body: 'none' },
  },
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof commandTable
