import type { Context, Hono } from 'hono'
import { authorize } from '../core/auth/authorize.ts'
import { principalOf, type AppEnv } from './auth.ts'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Command } from '../core/catalog.ts'
import { BadRequestError, PayloadTooLargeError, SpawnerError, toSpawnerError } from '../core/errors.ts'
import { parseInput } from '../core/validation.ts'
import * as S from '../core/schemas.ts'
import type { WorkerService } from '../core/service.ts'
import { errorBody } from './errors.ts'
import { readJsonObject } from './json-body.ts'
import { base64ToBytes, bytesToBase64 } from '../core/bytes.ts'
import type { SseStreams } from './sse.ts'

/** Sends a worker's command to the instance that owns it (several instances on one Redis). */
export interface RemoteDispatch {
  /** The other instance owning `workerId`, or undefined to serve it here. */
  ownerOf(workerId: string): Promise<string | undefined>
  /** `caller` is the worker making the call, so the owner applies the rules for workers. */
  call(owner: string, command: string, payload: unknown, timeoutMs: number, caller?: string): Promise<unknown>
}

/** Extra time a forwarded request gets beyond its own timeout. */
const FORWARD_SLACK_MS = 30_000

export interface RouteLimits {
  /** Largest JSON body. */
  maxBodyBytes: number
  /** Largest raw file body. */
  maxFileBytes: number
  /** The listener's event streams: how many, and how far behind a client may fall. */
  streams: SseStreams
}

/** Query parameters that steer the HTTP answer and are not command input. */
const HTTP_ONLY_QUERY = new Set(['follow'])

const wantsSse = (c: Context) => (c.req.header('accept') ?? '').includes('text/event-stream')

/** Collects a command's input from path, query and body, as its binding says. */
const collectInput = async (c: Context<AppEnv>, cmd: Command): Promise<Record<string, unknown>> => {
  const input: Record<string, unknown> = {}
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (HTTP_ONLY_QUERY.has(key)) continue
    if (cmd.name === 'list' && key === 'label') {
      input.labels = Object.fromEntries(
        values.map((v) => {
          const at = v.indexOf('=')
          if (at <= 0) throw new BadRequestError(`label: '${v}' must be key=value`, [{ path: 'label', message: 'must be key=value' }])
          return [v.slice(0, at), v.slice(at + 1)]
        }),
      )
      continue
    }
    input[key] = values.length === 1 ? values[0] : values
  }
  if (cmd.http.body === 'json' || cmd.http.body === 'config') {
    const body = await readJsonObject(c)
    if (cmd.http.body === 'config') input.config = body
    else Object.assign(input, body)
  }
  const id = c.req.param('id')
  if (id !== undefined) input.workerId = id
  return input
}

/** Registers one route per catalog command. */
export const registerCommandRoutes = (
  app: Hono<AppEnv>,
  commands: readonly Command[],
  service: WorkerService,
  limits: RouteLimits,
  remote?: RemoteDispatch,
) => {
  const tooLarge = (max: number) => (c: Context) =>
    c.json(errorBody(new PayloadTooLargeError(`body is larger than ${max} bytes`)), 413)

  for (const cmd of commands) {
    const max = cmd.http.body === 'raw' ? limits.maxFileBytes : limits.maxBodyBytes
    const handler = async (c: Context<AppEnv>) => {
      const raw = await collectInput(c, cmd)
      const principal = principalOf(c)
      const caller = principal.kind === 'worker' ? principal.workerId : undefined

      if (cmd.http.body === 'raw') {
        // File bytes skip base64: validate the other fields, then hand the body over as is.
        const input = parseInput(cmd.input, { ...raw, content: '' }, `${cmd.name} input`) as { workerId: string; path: string; mode?: number }
        await authorize(principal, cmd, input, service)
        const bytes = new Uint8Array(await c.req.arrayBuffer())
        const owner = await remote?.ownerOf(input.workerId)
        if (owner) {
          const payload = { ...input, content: bytesToBase64(bytes), encoding: 'base64' }
          return c.json((await remote!.call(owner, cmd.name, payload, FORWARD_SLACK_MS, caller)) as object, 200)
        }
        return c.json(await service.putBytes(input.workerId, input.path, bytes, input.mode), 200)
      }

      // Every command with a file or stream answer takes a workerId (and file commands a path).
      const input = parseInput(cmd.input, raw, `${cmd.name} input`) as { workerId: string; path: string; timeoutMs?: number }
      await authorize(principal, cmd, input, service)

      const owner = typeof input.workerId === 'string' ? await remote?.ownerOf(input.workerId) : undefined
      if (owner) {
        const timeout = (input.timeoutMs ?? 0) + FORWARD_SLACK_MS
        if (cmd.http.response === 'file' && !(c.req.header('accept') ?? '').includes('application/json')) {
          const file = (await remote!.call(owner, cmd.name, { ...input, encoding: 'base64' }, timeout, caller)) as { content: string }
          const bytes = base64ToBytes(file.content)
          return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream' })
        }
        const output = await remote!.call(owner, cmd.name, input, timeout, caller)
        return c.json(output as object, (cmd.http.status ?? 200) as ContentfulStatusCode)
      }

      if (cmd.http.response === 'file' && !(c.req.header('accept') ?? '').includes('application/json')) {
        const { path, bytes } = await service.getBytes(input.workerId, input.path)
        return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
          'content-type': 'application/octet-stream',
          'content-length': String(bytes.length),
          'x-file-path': encodeURIComponent(path),
        })
      }

      if (cmd.name === 'send_command' && wantsSse(c)) return streamCommand(c, cmd, service, input, limits.streams, caller)
      if (cmd.name === 'logs' && c.req.query('follow') === '1') return streamLogs(c, service, input, limits.streams, caller)

      let output = await cmd.run(service, input, caller ? { caller } : {})
      if (cmd.name === 'list' && caller) {
        // A worker sees itself and what it spawned.
        const all = (output as { workers: { workerId: string }[] }).workers
        const mine = await Promise.all(all.map((w) => service.isWithin(w.workerId, caller).catch(() => false)))
        output = { workers: all.filter((_, i) => mine[i]) }
      }
      return c.json(output as object, (cmd.http.status ?? 200) as ContentfulStatusCode)
    }
    app.on(cmd.http.method.toUpperCase(), cmd.http.path, bodyLimit({ maxSize: max, onError: tooLarge(max) }), handler)
  }
}

/**
 * send_command as SSE: `output` events while it runs, then one `result` (or `error`). A client
 * that leaves or falls too far behind (see SseStreams) aborts the command.
 */
const streamCommand = async (
  c: Context<AppEnv>,
  cmd: Command,
  service: WorkerService,
  input: { workerId: string },
  streams: SseStreams,
  caller: string | undefined,
) => {
  await service.get(input.workerId) // a missing worker is a 404, not an event
  return streams.respond(c, async (sse) => {
    let id = 0
    const onOutput = (s: 'stdout' | 'stderr', data: string) => {
      sse.send({ event: 'output', id: String(++id), data: JSON.stringify({ stream: s, data }) })
    }
    try {
      const result = await cmd.run(service, input, { onOutput, signal: sse.signal, ...(caller ? { caller } : {}) })
      sse.send({ event: 'result', id: String(++id), data: JSON.stringify(result) })
    } catch (err) {
      sse.send({ event: 'error', id: String(++id), data: JSON.stringify(errorBody(toSpawnerError(err))) })
    }
  }, caller)
}

/** logs?follow=1 as SSE: one `log` event per line until the client leaves or the worker stops. */
const streamLogs = async (
  c: Context<AppEnv>,
  service: WorkerService,
  input: unknown,
  streams: SseStreams,
  caller: string | undefined,
) => {
  const parsed = parseInput(S.logsInput, input, 'logs input')
  await service.get(parsed.workerId)
  return streams.respond(c, async (sse) => {
    try {
      await service.followLogs(parsed, (line) => sse.send({ event: 'log', data: JSON.stringify(line) }), sse.signal)
      sse.send({ event: 'end', data: '{}' })
    } catch (err) {
      if (sse.signal.aborted) return
      const e = err instanceof SpawnerError ? err : toSpawnerError(err)
      sse.send({ event: 'error', data: JSON.stringify(errorBody(e)) })
    }
  }, caller)
}
