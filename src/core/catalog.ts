import type { z } from 'zod'
import * as S from './schemas.ts'
import type { CommandHooks, WorkerService } from './service.ts'

/** How a command is exposed over HTTP. The Redis adapter ignores this. */
export interface HttpBinding {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** Hono-style path; `:id` is the worker id. */
  path: string
  /**
   * Where the input comes from besides path and query: `json` merges the JSON body,
   * `config` wraps the JSON body as `{ config }`, `raw` is a raw byte body (files), `none`.
   */
  body: 'json' | 'config' | 'raw' | 'none'
  /** `file` answers with raw bytes unless the caller asks for JSON. */
  response?: 'json' | 'file'
  status?: 200 | 201
}

/** One operation, declared once and served over both HTTP and Redis. */
export interface Command<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string
  summary: string
  input: I
  output: O
  /** The permission a worker token needs to call it (see allowedTools). */
  permission: string
  http: HttpBinding
  run: (service: WorkerService, input: z.output<I>, hooks: CommandHooks) => Promise<z.output<O>>
}

const command = <I extends z.ZodType, O extends z.ZodType>(c: Command<I, O>): Command<I, O> => c

/** The command catalog: every operation the service offers, in one table. */
export const catalog = [
  command({
    name: 'create',
    summary: 'Create a worker from a WorkerConfig (builds or reuses its image, starts the container)',
    input: S.createInput,
    output: S.createOutput,
    permission: 'spawn',
    http: { method: 'post', path: '/v1/workers', body: 'config', status: 201 },
    run: (s, input, hooks) => s.create(input, hooks, hooks.caller ? { parentId: hooks.caller } : undefined),
  }),
  command({
    name: 'list',
    summary: 'List workers, optionally filtered by labels',
    input: S.listInput,
    output: S.listOutput,
    permission: 'status',
    http: { method: 'get', path: '/v1/workers', body: 'none' },
    run: (s, input) => s.list(input),
  }),
  command({
    name: 'status',
    summary: "A worker's state, plugins, times and deadlines",
    input: S.statusInput,
    output: S.statusOutput,
    permission: 'status',
    http: { method: 'get', path: '/v1/workers/:id', body: 'none' },
    run: (s, input) => s.status(input),
  }),
  command({
    name: 'send_command',
    summary: 'Run a prompt through the agent, or a shell/argv command; SSE with Accept: text/event-stream',
    input: S.sendCommandInput,
    output: S.sendCommandOutput,
    permission: 'send',
    http: { method: 'post', path: '/v1/workers/:id/commands', body: 'json' },
    run: (s, input, hooks) => s.sendCommand(input, hooks),
  }),
  command({
    name: 'send_file',
    summary: 'Write a file into the worker (HTTP: raw body bytes, ?path=&mode=)',
    input: S.sendFileInput,
    output: S.sendFileOutput,
    permission: 'file',
    http: { method: 'put', path: '/v1/workers/:id/files', body: 'raw' },
    run: (s, input, hooks) => s.sendFile(input, hooks),
  }),
  command({
    name: 'read_file',
    summary: 'Read a file from the worker (HTTP: raw bytes, or JSON with Accept: application/json)',
    input: S.readFileInput,
    output: S.readFileOutput,
    permission: 'file',
    http: { method: 'get', path: '/v1/workers/:id/files', body: 'none', response: 'file' },
    run: (s, input) => s.readFile(input),
  }),
  command({
    name: 'logs',
    summary: "The worker container's log lines (?tail=N&since=unix; follow=1 streams SSE)",
    input: S.logsInput,
    output: S.logsOutput,
    permission: 'logs',
    http: { method: 'get', path: '/v1/workers/:id/logs', body: 'none' },
    run: (s, input) => s.logs(input),
  }),
  command({
    name: 'pause',
    summary: 'Freeze the worker (docker pause)',
    input: S.workerRefInput,
    output: S.stateOutput,
    permission: 'pause',
    http: { method: 'post', path: '/v1/workers/:id/pause', body: 'none' },
    run: (s, input, hooks) => s.pause(input, hooks),
  }),
  command({
    name: 'resume',
    summary: 'Thaw a paused worker',
    input: S.workerRefInput,
    output: S.stateOutput,
    permission: 'pause',
    http: { method: 'post', path: '/v1/workers/:id/resume', body: 'none' },
    run: (s, input, hooks) => s.resume(input, hooks),
  }),
  command({
    name: 'update',
    summary: "Change a worker's TTL or idle time",
    input: S.updateInput,
    output: S.statusOutput,
    permission: 'update',
    http: { method: 'patch', path: '/v1/workers/:id', body: 'json' },
    run: (s, input, hooks) => s.update(input, hooks),
  }),
  command({
    name: 'delete',
    summary: 'Stop and remove the worker',
    input: S.workerRefInput,
    output: S.deleteOutput,
    permission: 'delete',
    http: { method: 'delete', path: '/v1/workers/:id', body: 'none' },
    run: (s, input, hooks) => s.delete(input, hooks),
  }),
  command({
    name: 'respond',
    summary: "Publish a response event for the worker (an agent talking back mid-task)",
    input: S.respondInput,
    output: S.respondOutput,
    permission: 'respond',
    http: { method: 'post', path: '/v1/workers/:id/respond', body: 'json' },
    run: (s, input, hooks) => s.respond(input, hooks),
  }),
  command({
    name: 'plugins',
    summary: 'Loaded plugins, their versions, and load errors',
    input: S.pluginsInput,
    output: S.pluginsOutput,
    permission: 'plugins',
    http: { method: 'get', path: '/v1/plugins', body: 'none' },
    run: async (s) => s.plugins(),
  }),
] as const satisfies readonly Command[]

export type CommandName = (typeof catalog)[number]['name']

/** Looks a command up by name. */
export const findCommand = (name: string): Command | undefined =>
  (catalog as readonly Command[]).find((c) => c.name === name)
