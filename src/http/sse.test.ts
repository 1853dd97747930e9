import { request, type IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { serve } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import type { SpawnerEvent } from '../core/events.ts'
import type { Logger } from '../core/logger.ts'
import { defineAgent } from '../core/plugin/contract.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import type { ExecRequest } from '../core/runtime.ts'
import { WorkerService } from '../core/service.ts'
import { createApp, type AppOptions } from './app.ts'
import { sseQueuedBytes } from './sse.ts'

const KiB = 1024
const MiB = 1024 * KiB
/** How far behind a client may fall in these tests. */
const LIMIT = 256 * KiB
/** Size of one flooded event's data. */
const CHUNK = 64 * KiB
/** Give up flooding after this much: a client never dropped has failed the test. */
const FLOOD_CAP = 256 * MiB

const registry = PluginRegistry.fromModules([
  {
    name: 'shell',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'shell',
        version: '1.0.0',
        description: 'd',
        prompt: (r) => ({ argv: ['bash', '-c', r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
])

/** A feed the test publishes to by hand. */
const manualFeed = () => {
  const listeners = new Set<(event: SpawnerEvent) => void>()
  return {
    subscribe(listener: (event: SpawnerEvent) => void) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    publish(event: SpawnerEvent) {
      for (const listener of listeners) listener(event)
    },
    get listeners() {
      return listeners.size
    },
  }
}

const warnings: string[] = []
const logger: Logger = { debug() {}, info() {}, error() {}, warn: (msg) => void warnings.push(msg) }

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  warnings.length = 0
})

/** The app on a random loopback port, and the server side of every connection made to it. */
const listen = async (opts: Partial<AppOptions> = {}) => {
  const runtime = new MemoryRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
  })
  const app = createApp({ service, logger, maxSseQueuedBytes: LIMIT, ...opts })
  const sockets: Socket[] = []
  let server!: ReturnType<typeof serve>
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(info.port),
    )
  })
  server.on('connection', (socket: Socket) => sockets.push(socket))
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  )
  expect((server.address() as AddressInfo).port).toBe(port)
  return { app, runtime, service, port, sockets }
}

/**
 * Opens `path` over a real socket and, once the answer's headers are in, reads nothing more:
 * the client's receive buffer fills, then the kernel's, then the server's queue.
 */
const openStalled = (
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        res.on('error', () => {})
        resolve(res)
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })

/** Resolves when `socket` is closed. */
const closed = (socket: Socket) =>
  new Promise<void>((resolve) =>
    socket.destroyed ? resolve() : socket.once('close', () => resolve()),
  )

/**
 * Calls `step` until `done()` or FLOOD_CAP bytes were sent, yielding to I/O between calls;
 * returns the most bytes the process held for the client at any point (the event-stream
 * queues plus the server socket's own buffer).
 */
const flood = async (socket: Socket, step: () => void, done: () => boolean) => {
  let sent = 0
  let most = 0
  while (!done() && sent < FLOOD_CAP) {
    step()
    sent += CHUNK
    await new Promise((resolve) => setImmediate(resolve))
    most = Math.max(most, sseQueuedBytes() + (socket.destroyed ? 0 : socket.writableLength))
  }
  return { sent, most }
}

const outputEvent = (data: string): SpawnerEvent => ({
  type: 'output',
  workerId: 'w-0123456789abcdef',
  stream: 'stdout',
  data,
  seq: 0,
  at: new Date().toISOString(),
})

describe('event streams', () => {
  it('drop a client that stops reading on /v1/events, holding at most the limit for it', async () => {
    const feed = manualFeed()
    const { port, sockets } = await listen({ events: feed })
    const res = await openStalled(port, '/v1/events')
    expect(res.statusCode).toBe(200)
    expect(feed.listeners).toBe(1)
    const socket = sockets[0]!
    let gone = false
    const socketClosed = closed(socket).then(() => (gone = true))
    const chunk = 'x'.repeat(CHUNK)
    const { sent, most } = await flood(
      socket,
      () => feed.publish(outputEvent(chunk)),
      () => gone,
    )
    await socketClosed
    // The queue may pass the limit by one event (JSON adds a little) before the next is refused.
    expect(most).toBeLessThanOrEqual(LIMIT + 2 * (CHUNK + KiB) + 64 * KiB)
    expect(sent).toBeGreaterThan(LIMIT)
    expect(sseQueuedBytes()).toBe(0)
    // The one left is the replay's, which keeps the latest events for clients that resume.
    expect(feed.listeners).toBe(1)
    expect(warnings).toContain('event stream dropped: the client fell behind')
    // The client, reading again, finds the stream cut off.
    res.resume()
    await new Promise((resolve) => res.once('close', resolve))
    expect(res.complete).toBe(false)
  })

  it('abort the command of a send_command stream whose client stops reading', async () => {
    const { app, port, sockets, runtime } = await listen()
    runtime.images.set('img', 'sha256:img')
    const created = await app.request('/v1/workers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'shell' }),
    })
    expect(created.status).toBe(201)
    const { workerId } = (await created.json()) as { workerId: string }
    const chunk = 'y'.repeat(CHUNK)
    let execRequest: ExecRequest | undefined
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    let aborted!: () => void
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve))
    runtime.onExec = async (_id, req) => {
      execRequest = req
      started()
      await new Promise<void>((resolve) =>
        req.signal?.addEventListener('abort', () => resolve(), { once: true }),
      )
      aborted()
      return { exitCode: 130, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
    }
    const res = await openStalled(port, `/v1/workers/${workerId}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ shell: 'yes' }),
    })
    expect(res.statusCode).toBe(200)
    await running
    const socket = sockets.find((s) => !s.destroyed)!
    let gone = false
    const socketClosed = closed(socket).then(() => (gone = true))
    const { most } = await flood(
      socket,
      () => execRequest!.onOutput!('stdout', chunk),
      () => gone,
    )
    await socketClosed
    await abortSeen
    expect(most).toBeLessThanOrEqual(LIMIT + 2 * (CHUNK + KiB) + 64 * KiB)
    expect(warnings).toContain('event stream dropped: the client fell behind')
  })

  it('refuse one stream more than the listener allows, and take one again once one closes', async () => {
    const { app } = await listen({ maxSseStreams: 2, events: manualFeed() })
    const first = await app.request('/v1/events')
    const second = await app.request('/v1/events')
    expect([first.status, second.status]).toEqual([200, 200])
    const third = await app.request('/v1/events')
    expect(third.status).toBe(503)
    expect(await third.json()).toMatchObject({ error: { code: 'too_many_streams' } })
    await first.body!.cancel()
    const fourth = await app.request('/v1/events')
    expect(fourth.status).toBe(200)
    await second.body!.cancel()
    await fourth.body!.cancel()
  })
})
