import { z } from 'zod'
import type { Command } from '../core/catalog.ts'

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}')

const schema = (s: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<string, unknown>

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

/** Input fields that travel in the path or query rather than the body. */
const queryFields = (cmd: Command): string[] => {
  if (cmd.http.body === 'json' || cmd.http.body === 'config') return []
  const json = schema(cmd.input, 'input') as { properties?: Record<string, unknown> }
  return Object.keys(json.properties ?? {}).filter((k) => k !== 'workerId' && k !== 'content' && k !== 'labels')
}

/** Builds the OpenAPI 3 document from the command catalog. */
export const buildOpenApi = (commands: readonly Command[], info: { version: string }) => {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const cmd of commands) {
    const path = toOpenApiPath(cmd.http.path)
    const parameters: unknown[] = []
    if (cmd.http.path.includes(':id')) {
      parameters.push({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'worker id' })
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
    if (cmd.name === 'list') {
      parameters.push({ name: 'label', in: 'query', schema: { type: 'string' }, description: 'key=value, repeatable' })
    }
    if (cmd.name === 'logs') {
      parameters.push({ name: 'follow', in: 'query', schema: { type: 'string', enum: ['1'] }, description: 'stream as SSE' })
    }
    let requestBody: unknown
    if (cmd.http.body === 'config') {
      requestBody = { required: true, content: { 'application/json': { schema: (inputJson.properties ?? {}).config } } }
    } else if (cmd.http.body === 'json') {
      const { workerId: _omit, ...props } = inputJson.properties ?? {}
      requestBody = {
        required: true,
        content: {
          'application/json': {
            schema: { ...inputJson, properties: props, required: (inputJson.required ?? []).filter((r) => r !== 'workerId') },
          },
        },
      }
    } else if (cmd.http.body === 'raw') {
      requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
    }
    const ok: Record<string, unknown> = { 'application/json': { schema: schema(cmd.output, 'output') } }
    if (cmd.http.response === 'file') ok['application/octet-stream'] = { schema: { type: 'string', format: 'binary' } }
    if (cmd.name === 'send_command' || cmd.name === 'logs') ok['text/event-stream'] = { schema: { type: 'string' } }
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
      summary: 'The caller: operator, or a worker (id, tools, parent) when called with a worker token',
      responses: { '200': { description: 'OK' }, '401': { description: 'Unauthorized', ...err } },
    },
  }
  paths['/v1/events'] = {
    get: {
      operationId: 'events',
      summary: 'Server-sent events: status, output, response, command_exit (operators only)',
      parameters: [
        { name: 'worker', in: 'query', schema: { type: 'string' }, description: "one worker's events" },
        { name: 'type', in: 'query', schema: { type: 'string' }, description: 'comma-separated event types' },
      ],
      responses: {
        '200': { description: 'An SSE stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        '403': { description: 'Not an operator', ...err },
      },
    },
  }
  for (const [path, summary] of [
    ['/healthz', 'The process answers'],
    ['/readyz', 'Docker (and Redis, when on) answer; 503 otherwise'],
  ] as const) {
    paths[path] = { get: { operationId: path.slice(1), summary, security: [], responses: { '200': { description: 'OK' } } } }
  }
  return {
    openapi: '3.0.3',
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'SPAWNER_API_TOKEN, or a worker token (ORCHESTRATOR_TOKEN)' },
      },
    },
    security: [{ bearer: [] }],
    info: {
      title: 'workers-spawner',
      version: info.version,
      description: 'Run CLI coding agents in Docker containers; drive them over HTTP and Redis Streams.',
    },
    paths,
  }
}
