import { request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { noopLogger } from '../core/logger.ts'
import type { ModelAccess, ModelRoute } from '../core/model-access.ts'
import { registerGateway } from './gateway.ts'
import { DEFAULT_PRICES } from './prices.ts'

const route: ModelRoute = {
  workerId: 'w-0123456789abcdef',
  plugin: 'bench-model',
  upstream: 'http://upstream.test',
  key: 'real-key',
}

let server: Server | undefined
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

/** The gateway on a real HTTP listener, its upstream answering `answer()`; what it recorded. */
const gatewayAnswering = async (answer: () => Response) => {
  const recorded: unknown[] = []
  const models = {
    route: async () => route,
    record: (_: ModelRoute, call: unknown) => recorded.push(call),
    release: () => undefined,
  } as unknown as ModelAccess
  const app = new Hono()
  registerGateway(app, {
    models,
    prices: DEFAULT_PRICES,
    logger: noopLogger,
    fetch: async () => answer(),
  })
  server = createAdaptorServer({ fetch: app.fetch }) as Server
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { port, recorded }
}

/** One call as a worker's CLI makes it; the answer's headers and body as they came. */
const call = (port: number) =>
  new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/model/bench-model/v1/messages',
        headers: { 'x-api-key': 'wsk_credential', 'content-type': 'application/json' },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify({ model: 'claude-sonnet-4-5', messages: [] }))
  })

const json = JSON.stringify({
  type: 'message',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: '12' }],
  usage: { input_tokens: 12, output_tokens: 3 },
})

describe('the model gateway passes answers on', () => {
  it('a JSON answer of known length in one piece, with its length (not chunked)', async () => {
    const { port, recorded } = await gatewayAnswering(
      () =>
        new Response(json, {
          headers: { 'content-type': 'application/json', 'content-length': String(json.length) },
        }),
    )
    const { headers, body } = await call(port)
    expect(body).toBe(json)
    expect(headers['content-length']).toBe(String(json.length))
    expect(headers['transfer-encoding']).toBeUndefined()
    expect(recorded).toMatchObject([{ inputTokens: 12, outputTokens: 3 }])
  })

  it('an event stream as it comes, metered when it ends', async () => {
    const events =
      'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":12,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":5}}\n\n'
    const { port, recorded } = await gatewayAnswering(
      () => new Response(events, { headers: { 'content-type': 'text/event-stream' } }),
    )
    const { headers, body } = await call(port)
    expect(body).toBe(events)
    expect(headers['transfer-encoding']).toBe('chunked')
    expect(recorded).toMatchObject([{ inputTokens: 12, outputTokens: 5 }])
  })
})
