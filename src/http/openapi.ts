import { z } from 'zod'
import type { Command } from '../core/catalog.ts'
import { spawnerEventSchema } from '../core/events.ts'
import { agentUpdateSchema } from '../core/plugin/updates.ts'
import { fileChangeSchema } from '../core/schemas.ts'
import { previewPaths } from './preview-openapi.ts'

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}')

const schema = (s: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<
    string,
    unknown
  >

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {},
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
}

/** Input fields that travel as query parameters of their own name. */
const queryFields = (cmd: Command): string[] => {
  const { http } = cmd
  if (http.body === 'json' || http.body === 'config') return []
  const elsewhere = new Set([
    ...Object.values(http.params ?? {}),
    ...Object.values(http.query ?? {}).map((q) => q.field),
    ...(http.body === 'raw' && cmd.bytes?.input ? [cmd.bytes.input] : []),
  ])
  const json = schema(cmd.input, 'input') as { properties?: Record<string, unknown> }
  return Object.keys(json.properties ?? {}).filter((k) => !elsewhere.has(k))
}

/** Builds the OpenAPI 3 document from the command catalog. */
export const buildOpenApi = (commands: readonly Command[], info: { version: string }) => {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const cmd of commands) {
    const path = toOpenApiPath(cmd.http.path)
    const parameters: unknown[] = []
    for (const [name, field] of Object.entries(cmd.http.params ?? {})) {
      const description = field === 'workerId' ? 'worker id' : field
      parameters.push({ name, in: 'path', required: true, schema: { type: 'string' }, description })
    }
    const inputJson = schema(cmd.input, 'input') as {
      properties?: Record<string, unknown>
      required?: string[]
    }
    for (const name of queryFields(cmd)) {
      parameters.push({
        name,
        in: 'query',
        required: inputJson.required?.includes(name) ?? false,
        schema: inputJson.properties?.[name] ?? {},
      })
    }
    for (const [name, q] of Object.entries(cmd.http.query ?? {})) {
      parameters.push({ name, in: 'query', schema: { type: 'string' }, description: q.description })
    }
    const when = cmd.http.streamWhen
    if (when && 'query' in when) {
      parameters.push({
        name: when.query,
        in: 'query',
        schema: { type: 'string', enum: [when.value] },
        description: when.description,
      })
    }
    let requestBody: unknown
    if (cmd.http.body === 'config') {
      const field = (inputJson.properties ?? {})[cmd.http.bodyField ?? 'config']
      requestBody = { required: true, content: { 'application/json': { schema: field } } }
    } else if (cmd.http.body === 'json') {
      const inPath = new Set(Object.values(cmd.http.params ?? {}))
      const props = Object.fromEntries(
        Object.entries(inputJson.properties ?? {}).filter(([k]) => !inPath.has(k)),
      )
      requestBody = {
        required: true,
        content: {
          'application/json': {
            schema: {
              ...inputJson,
              properties: props,
              required: (inputJson.required ?? []).filter((r) => !inPath.has(r)),
            },
          },
        },
      }
    } else if (cmd.http.body === 'raw') {
      requestBody = {
        required: true,
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      }
    }
    const ok: Record<string, unknown> = {
      'application/json': { schema: schema(cmd.output, 'output') },
    }
    if (cmd.http.response === 'file')
      ok['application/octet-stream'] = { schema: { type: 'string', format: 'binary' } }
    if (cmd.stream) ok['text/event-stream'] = { schema: { type: 'string' } }
    if (cmd.stream && when && 'always' in when) {
      // A route that only streams: its events are the items, then the closing one.
      delete ok['application/json']
      const { item, end } = cmd.stream
      ok['text/event-stream'] = {
        schema: {
          type: 'string',
          description: `SSE: \`${item}\` events, then \`${end}\` with ${cmd.name}'s result, or \`error\``,
        },
      }
    }
    const err = { content: { 'application/json': { schema: errorSchema } } }
    paths[path] ??= {}
    paths[path][cmd.http.method] = {
      operationId: cmd.name,
      summary: cmd.summary,
      'x-permission': cmd.permission,
      parameters,
      ...(requestBody ? { requestBody } : {}),
      responses: {
        [String(cmd.http.status ?? 200)]: { description: 'OK', content: ok },
        '400': { description: 'Invalid input (zod issues in details)', ...err },
        '403': { description: 'Not allowed, or a browser request from another site', ...err },
        '404': { description: 'Unknown worker or plugin', ...err },
        '409': { description: 'Wrong state', ...err },
        '413': { description: 'Too large', ...err },
        ...(cmd.http.body === 'json' || cmd.http.body === 'config'
          ? { '415': { description: 'Body without a JSON Content-Type', ...err } }
          : {}),
        '503': { description: 'Docker unreachable', ...err },
      },
    }
  }
  const err = { content: { 'application/json': { schema: errorSchema } } }
  paths['/v1/whoami'] = {
    get: {
      operationId: 'whoami',
      summary:
        'The caller: operator, or a worker (id, tools, parent) when called with a worker token',
      responses: { '200': { description: 'OK' }, '401': { description: 'Unauthorized', ...err } },
    },
  }
  paths['/v1/events'] = {
    get: {
      operationId: 'events',
      summary:
        'Server-sent events (operators only): each a SpawnerEvent (components.schemas), `id:` to resume after',
      parameters: [
        {
          name: 'worker',
          in: 'query',
          schema: { type: 'string' },
          description: "one worker's events",
        },
        {
          name: 'type',
          in: 'query',
          schema: { type: 'string' },
          description: 'comma-separated event types',
        },
        {
          name: 'Last-Event-ID',
          in: 'header',
          schema: { type: 'string' },
          description:
            'the last id seen: the events after it come first (an `event: gap` when some are gone)',
        },
      ],
      responses: {
        '200': {
          description: 'An SSE stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        '403': { description: 'Not an operator', ...err },
      },
    },
  }
  paths['/v1/workers/{id}/terminal'] = {
    get: {
      operationId: 'terminal',
      summary:
        'A WebSocket into a login shell in a PTY in the worker, as uid 1000 (operators; a worker with the `terminal` tool into itself or its sub-workers)',
      description: [
        'Upgrade with `Upgrade: websocket`. Client to server: JSON text frames',
        '`{"type":"input","data":"…"}` and `{"type":"resize","cols":N,"rows":N}`. Server to',
        'client: binary frames of raw PTY output, then `{"type":"exit","code":N}` just before',
        'it closes (1000 shell exited, 4408 idle for TERMINAL_IDLE_SECONDS, 1001 shutting',
        'down). A shell that cannot open closes 4000 + the HTTP status, the reason',
        '`<code>: <message>` (4429 `too_many_terminals`, 4409 `terminal_unavailable`, 4404).',
      ].join(' '),
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        ...(['cols', 'rows'] as const).map((name) => ({
          name,
          in: 'query',
          schema: { type: 'integer', minimum: 1, default: name === 'cols' ? 80 : 24 },
          description: `initial ${name === 'cols' ? 'columns' : 'rows'} of the PTY`,
        })),
      ],
      responses: {
        '101': { description: 'Switching to the WebSocket protocol' },
        '400': { description: 'Not a WebSocket upgrade, or a size out of range', ...err },
        '401': { description: 'Unauthorized', ...err },
        '403': { description: 'Not allowed, or a browser request from another site', ...err },
      },
    },
  }
  Object.assign(paths, previewPaths(err))
  for (const [path, summary] of [
    ['/healthz', 'The process answers'],
    ['/readyz', 'Docker (and Redis, when on) answer; 503 otherwise'],
  ] as const) {
    paths[path] = {
      get: {
        operationId: path.slice(1),
        summary,
        security: [],
        responses: { '200': { description: 'OK' } },
      },
    }
  }
  return {
    openapi: '3.0.3',
    components: {
      schemas: {
        SpawnerEvent: schema(spawnerEventSchema, 'output'),
        AgentUpdate: schema(agentUpdateSchema, 'output'),
        FileChange: schema(fileChangeSchema, 'output'),
      },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'SPAWNER_API_TOKEN, or a worker token (ORCHESTRATOR_TOKEN)',
        },
      },
    },
    security: [{ bearer: [] }],
    info: {
      title: 'workers-spawner',
      version: info.version,
      description:
        'Run CLI coding agents in Docker containers; drive them over HTTP and Redis Streams.',
    },
    paths,
  }
}
