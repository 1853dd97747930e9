import { serve, upgradeWebSocket } from '@hono/node-server'
import { describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { TokenSigner } from '../core/auth/jwt.ts'
import { memoryService } from '../../test/support/memory-service.ts'
import { createApp } from './app.ts'

const API_TOKEN = 'operator-token-0123456789'
const signer = new TokenSigner('k'.repeat(32))

/** An app with an API token and worker tokens, over two workers of the memory runtime. */
const setup = async () => {
  const { service, create } = memoryService()
  const [a, b] = [(await create()).workerId, (await create()).workerId]
  const app = createApp({ service, auth: { apiToken: API_TOKEN, signer } })
  const tokenOf = (sub: string, tools: string[]) =>
    signer.sign({ sub, tools, exp: Math.floor(Date.now() / 1000) + 600 })
  const open = (workerId: string, headers: Record<string, string> = {}) =>
    app.request(`http://localhost/v1/workers/${workerId}/terminal`, {
      headers: { upgrade: 'websocket', connection: 'Upgrade', ...headers },
    })
  return { service, a, b, app, tokenOf, open }
}

const codeOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string } }).error.code

describe('GET /v1/workers/:id/terminal, before the upgrade', () => {
  it('refuses a call without the API token', async () => {
    const { a, open } = await setup()
    const res = await open(a)
    expect(res.status).toBe(401)
  })

  it('refuses a page of another site, token or not', async () => {
    const { a, open } = await setup()
    const res = await open(a, {
      authorization: `Bearer ${API_TOKEN}`,
      origin: 'http://evil.example',
    })
    expect(res.status).toBe(403)
    expect(await codeOf(res)).toBe('cross_origin')
  })

  it('refuses a worker token without the terminal tool, and one for another worker', async () => {
    const { a, b, open, tokenOf } = await setup()
    const noTool = await open(a, { authorization: `Bearer ${await tokenOf(a, ['status'])}` })
    expect(noTool.status).toBe(403)
    expect(await codeOf(noTool)).toBe('tool_not_allowed')
    const foreign = await open(b, { authorization: `Bearer ${await tokenOf(a, ['terminal'])}` })
    expect(foreign.status).toBe(403)
    expect(await codeOf(foreign)).toBe('not_your_worker')
  })

  it('lets a worker with the tool past authorization into itself', async () => {
    const { a, open, tokenOf } = await setup()
    // No WebSocket server under app.request: past the checks, that is what refuses.
    const res = await open(a, { authorization: `Bearer ${await tokenOf(a, ['terminal'])}` })
    expect(res.status).toBe(409)
    expect(await codeOf(res)).toBe('terminal_unavailable')
  })

  it('answers 400 to a plain GET and to a size out of range', async () => {
    const { a, app } = await setup()
    const auth = { authorization: `Bearer ${API_TOKEN}` }
    const plain = await app.request(`/v1/workers/${a}/terminal`, { headers: auth })
    expect(plain.status).toBe(400)
    expect(((await plain.json()) as { error: { message: string } }).error.message).toMatch(
      /WebSocket/,
    )
    const huge = await app.request(`/v1/workers/${a}/terminal?cols=100000`, { headers: auth })
    expect(huge.status).toBe(400)
  })

  it('is not served on the listener workers reach', async () => {
    const { service, a, tokenOf } = await setup()
    const app = createApp({ service, auth: { signer, required: true }, surface: 'worker' })
    const res = await app.request(`/v1/workers/${a}/terminal`, {
      headers: {
        upgrade: 'websocket',
        authorization: `Bearer ${await tokenOf(a, ['terminal'])}`,
      },
    })
    expect(res.status).toBe(404)
  })
})

describe('GET /v1/workers/:id/terminal, served', () => {
  it('upgrades, then closes 4409 terminal_unavailable where the runtime has no PTY', async () => {
    const { service, create } = memoryService()
    const { workerId } = await create()
    const app = createApp({ service, upgradeWebSocket })
    const wss = new WebSocketServer({ noServer: true })
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve(
        { fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss } },
        () => resolve(s),
      )
    })
    try {
      const { port } = server.address() as { port: number }
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/workers/${workerId}/terminal`)
      const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      )
      expect(closed.code).toBe(4409)
      expect(closed.reason).toMatch(/^terminal_unavailable: terminals need Docker in this process/)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
