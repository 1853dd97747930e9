import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { gatewayService, REAL_KEY } from '../../test/support/gateway-service.ts'
import { noopLogger } from '../core/logger.ts'
import { WorkerKeys } from '../core/gateway-access.ts'
import { registerGateway } from './gateway.ts'
import { DEFAULT_PRICES } from './prices.ts'
import { workerConfigSchema } from '../core/config.ts'
import { refusal } from '../../test/support/memory-service.ts'
import { FIXTURES } from './usage.fixtures.ts'

const BASE = 'https://operator-models.example/api'
const MESSAGE = JSON.stringify({
  type: 'message',
  model: 'claude-sonnet-4-5',
  usage: { input_tokens: 100, output_tokens: 20 },
})
const json = (body: string, status = 200, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } })

interface Sent {
  url: string
  headers: Headers
  body: string
}

/** A gateway over a memory service with one `modeled` worker; `upstream` answers its calls. */
const setup = async (
  upstream: (sent: Sent) => Response | Promise<Response> = () => json(MESSAGE),
  opts: { hostEnv?: Record<string, string>; maxRequestBytes?: number; realFetch?: boolean } = {},
) => {
  const svc = gatewayService(opts.hostEnv ? { hostEnv: opts.hostEnv } : {})
  const { workerId } = await svc.create({ agent: 'modeled' })
  const credential = await svc.credentialOf(workerId)
  const sent: Sent[] = []
  const fetch = async (url: string | URL | Request, init?: RequestInit) => {
    const req = new Request(url, init)
    const s = { url: req.url, headers: req.headers, body: await req.text() }
    sent.push(s)
    return upstream(s)
  }
  const app = new Hono()
  registerGateway(app, {
    models: svc.service.models,
    prices: DEFAULT_PRICES,
    logger: noopLogger,
    ...(opts.realFetch ? {} : { fetch: fetch as typeof globalThis.fetch }),
    ...(opts.maxRequestBytes ? { maxRequestBytes: opts.maxRequestBytes } : {}),
  })
  const spend = async () => (await svc.service.status({ workerId })).spend
  return { ...svc, app, workerId, credential, sent, spend }
}

/** Every header, one `name: value` a line. */
const dump = (headers: Headers) => {
  const lines: string[] = []
  headers.forEach((value, name) => lines.push(`${name}: ${value}`))
  return lines.join('\n')
}

const errorOf = async (res: Response) => {
  expect(res.headers.get('content-type')).toBe('application/json')
  return ((await res.json()) as { error: { code: string; message: string } }).error
}

describe('the model gateway', () => {
  it('takes the credential where the CLI puts it and sends the real key there', async () => {
    const { app, credential, sent, spend } = await setup()
    const cases = [
      [{ 'x-api-key': credential }, (h: Headers) => h.get('x-api-key')],
      [{ authorization: `Bearer ${credential}` }, (h: Headers) => h.get('authorization')],
      [{ 'x-goog-api-key': credential }, (h: Headers) => h.get('x-goog-api-key')],
    ] as const
    for (const [headers, where] of cases) {
      const res = await app.request('/model/modeled/v1/messages', {
        method: 'POST',
        headers: { ...headers, cookie: 'a=b', 'anthropic-version': '2023-06-01' },
        body: '{"model":"claude-sonnet-4-5"}',
      })
      expect(res.status).toBe(200)
      expect(await res.text()).toBe(MESSAGE)
      const out = sent.at(-1)!
      expect(out.url).toBe(`${BASE}/v1/messages`)
      expect(where(out.headers)).toMatch(new RegExp(`^(Bearer )?${REAL_KEY}$`))
      expect(out.headers.get('anthropic-version')).toBe('2023-06-01')
      expect(out.headers.get('cookie')).toBeNull()
      expect(out.body).toBe('{"model":"claude-sonnet-4-5"}')
      expect(dump(out.headers)).not.toContain(credential)
      // Only the header the credential came in carries the key.
      expect(dump(out.headers).split(REAL_KEY)).toHaveLength(2)
    }
    const res = await app.request(
      `/model/modeled/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=${credential}`,
      { method: 'POST', body: '{}' },
    )
    expect([res.status, await res.text()]).toEqual([200, MESSAGE])
    // A key in a URL ends up in logs, error pages and redirects: Gemini's header carries it.
    expect(sent.at(-1)!.url).toBe(
      `${BASE}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse`,
    )
    expect(sent.at(-1)!.headers.get('x-goog-api-key')).toBe(REAL_KEY)
    expect(await spend()).toMatchObject({ requests: 4, inputTokens: 400, outputTokens: 80 })
  })

  it('never puts the real key in a URL, where a redirect would hand it back', async () => {
    // An upstream that redirects as a web server does (http to https), query and all.
    const { app, credential } = await setup(
      (s) => new Response(null, { status: 301, headers: { location: s.url } }),
    )
    const res = await app.request(`/model/modeled/v1/messages?key=${credential}`, {
      method: 'POST',
      body: '{"model":"claude-sonnet-4-5"}',
    })
    expect(res.status).toBe(301)
    expect(res.headers.get('location')).not.toContain(REAL_KEY)
  })

  it('sends a call to the upstream’s host however the plugin’s name is spelled', async () => {
    const { app, credential, sent } = await setup(undefined, { hostEnv: { K2: REAL_KEY } })
    // `%6f` is `o`: the route matches `modeled`, the raw path is two characters longer.
    const res = await app.request('/model/m%6fdeled/v1/messages?x=1', {
      method: 'POST',
      headers: { 'x-api-key': credential },
    })
    expect(res.status).toBe(200)
    expect(sent.map((s) => s.url)).toEqual(['https://up.example/v1/messages?x=1'])
  })

  it('answers 401 to a credential it did not mint, 403 for a plugin the worker lacks', async () => {
    const { app, create, credentialOf, sent } = await setup()
    const shell = await create()
    const foreign = await new WorkerKeys('some other service secret, long').mint(shell.workerId)
    const presented: Record<string, string>[] = [
      { 'x-api-key': foreign },
      { 'x-api-key': REAL_KEY },
      {},
    ]
    for (const headers of presented) {
      const res = await app.request('/model/modeled/v1/messages', { method: 'POST', headers })
      expect(res.status).toBe(401)
      expect(await errorOf(res)).toMatchObject({ code: 'unauthorized' })
    }
    const res = await app.request('/model/modeled/v1/messages', {
      headers: { 'x-api-key': await credentialOf(shell.workerId) },
    })
    expect(res.status).toBe(403)
    expect(await errorOf(res)).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining("does not have plugin 'modeled'"),
    })
    expect(sent).toEqual([])
  })

  it('refuses a call on a spent budget without reaching the upstream', async () => {
    const { app, service, workerId, credential, sent } = await setup()
    await service.update({ workerId, budget: { tokens: 100 } })
    const call = () =>
      app.request('/model/modeled/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': credential },
        body: '{}',
      })
    // The call is recorded once its answer has been read.
    expect(await (await call()).text()).toBe(MESSAGE)
    const res = await call()
    expect(res.status).toBe(403)
    expect(await errorOf(res)).toMatchObject({ code: 'budget_exceeded' })
    expect(sent).toHaveLength(1)
  })

  it('refuses a body over the limit with 413', async () => {
    const { app, credential, sent } = await setup(undefined, { maxRequestBytes: 16 })
    const post = (body: string) =>
      app.request('/model/modeled/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': credential },
        body,
      })
    expect((await post('x'.repeat(16))).status).toBe(200)
    const res = await post('x'.repeat(17))
    expect(res.status).toBe(413)
    expect(await errorOf(res)).toMatchObject({ code: 'payload_too_large' })
    expect(sent).toHaveLength(1)
  })

  it('passes on model calls only: not files, fine-tuning, admin or deleting a model', async () => {
    const { app, credential, sent } = await setup(undefined, { hostEnv: { K2: REAL_KEY } })
    const status = async (method: string, path: string) =>
      (await app.request(`/model/modeled${path}`, { method, headers: { 'x-api-key': credential } }))
        .status
    expect(await status('GET', '/v1/files')).toBe(403)
    expect(await status('POST', '/v1/fine_tuning/jobs')).toBe(403)
    expect(await status('GET', '/v1/organizations/api_keys')).toBe(403)
    expect(await status('DELETE', '/v1/models/ft-mine')).toBe(403)
    expect(await status('GET', '/v1/messages')).toBe(403)
    expect(await status('POST', '/v1/threads/t1/messages')).toBe(403)
    expect(sent).toHaveLength(0)
    expect(await status('GET', '/v1/models')).toBe(200)
    expect(await status('POST', '/v1beta/models/gemini-2.5-pro:streamGenerateContent')).toBe(200)
    expect(await status('POST', '/chat/completions')).toBe(200)
    expect(sent).toHaveLength(3)
  })

  it('does not count an upstream refusal that reports no usage', async () => {
    const { app, credential, spend } = await setup(() =>
      json('{"error":{"type":"rate_limit"}}', 429, { 'set-cookie': 'session=1' }),
    )
    const res = await app.request('/model/modeled/v1/messages', {
      method: 'POST',
      headers: { 'x-api-key': credential },
    })
    expect(res.status).toBe(429)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.text()).toBe('{"error":{"type":"rate_limit"}}')
    expect((await spend()).requests).toBe(0)
  })

  it('records a streamed call whose client went away mid-stream', async () => {
    const sse = FIXTURES.find((f) => f.name === 'anthropic sse')!
    const [first, second] = sse.body.split(/(?<=\n\n)/)
    let pulls = 0
    let upstreamCancelled = false
    const { app, credential, spend, events } = await setup(
      () =>
        new Response(
          new ReadableStream({
            start: (ctl) => {
              ctl.enqueue(new TextEncoder().encode(first))
              ctl.enqueue(new TextEncoder().encode(second))
            },
            // The rest never comes: only the client's cancel ends this stream.
            pull: () => {
              pulls++
              return new Promise(() => undefined)
            },
            cancel: () => {
              upstreamCancelled = true
            },
          }),
          { headers: { 'content-type': sse.contentType } },
        ),
    )
    const res = await app.request('/model/modeled/v1/messages', {
      method: 'POST',
      headers: { 'x-api-key': credential },
      body: '{"stream":true}',
    })
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(first)
    // The gateway has taken the second event (the upstream is asked for more) and holds it
    // unread: nothing of the gateway is waiting on the upstream when the client goes.
    await vi.waitFor(() => expect(pulls).toBe(1))
    await new Promise((resolve) => setImmediate(resolve))
    expect((await spend()).requests).toBe(0)
    await reader.cancel()
    expect(upstreamCancelled).toBe(true)
    expect(await spend()).toMatchObject({ requests: 1, inputTokens: 1210 })
    expect(events.filter((e) => e.type === 'usage')).toHaveLength(1)
  })
})

describe('the model gateway against a worker that tries not to pay', () => {
  const post = (app: Hono, credential: string, path: string, body: string) =>
    app.request(`/model/modeled${path}`, {
      method: 'POST',
      headers: { 'x-api-key': credential, 'content-type': 'application/json' },
      body,
    })

  it('keeps provider-side fetching from a worker that does not reach every host', async () => {
    const { app, credential, sent, create, credentialOf } = await setup()
    const fetching = [
      { model: 'claude-sonnet-4-5', mcp_servers: [{ type: 'url', url: 'https://x.test/mcp' }] },
      { model: 'claude-sonnet-4-5', tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] },
      { model: 'gpt-5', tools: [{ type: 'mcp', server_url: 'https://x.test/mcp' }] },
      { contents: [], tools: [{ url_context: {} }] },
    ]
    const paths = [
      '/v1/messages',
      '/v1/messages',
      '/v1/responses',
      '/v1beta/models/gemini-2.5-pro:generateContent',
    ]
    for (const [i, body] of fetching.entries()) {
      const res = await post(app, credential, paths[i]!, JSON.stringify(body))
      expect(res.status, JSON.stringify(body)).toBe(403)
      expect(await res.text()).toContain('allow list')
    }
    // An escaped name is the same name to the upstream.
    const escaped = '{"model":"claude-sonnet-4-5","mcp_server\\u0073":[{"url":"https://x.test"}]}'
    expect((await post(app, credential, '/v1/messages', escaped)).status).toBe(403)
    expect(sent).toEqual([])
    // Searching stays allowed (the provider picks the pages), and so does everything for 'all'.
    const search = { model: 'claude-sonnet-4-5', tools: [{ type: 'web_search_20250305' }] }
    expect((await post(app, credential, '/v1/messages', JSON.stringify(search))).status).toBe(200)
    const { workerId } = await create({ agent: 'modeled', network: 'all' })
    const open = await credentialOf(workerId)
    expect((await post(app, open, '/v1/messages', JSON.stringify(fetching[0]))).status).toBe(200)
  })

  it('asks every streamed completion for its usage, however `stream` is spelled', async () => {
    const { app, credential, sent } = await setup()
    const cases: [string, unknown][] = [
      // The legacy text completions stream no usage either, unless asked.
      ['/v1/completions', true],
      // Servers that coerce types (pydantic) take these for `true`.
      ['/v1/chat/completions', 'true'],
      ['/v1/chat/completions', 1],
    ]
    for (const [path, stream] of cases) {
      await post(app, credential, path, JSON.stringify({ model: 'gpt-4o', stream }))
      expect(JSON.parse(sent.at(-1)!.body)).toMatchObject({
        stream,
        stream_options: { include_usage: true },
      })
    }
    // Not streamed: left as it is.
    await post(app, credential, '/v1/chat/completions', '{"model":"gpt-4o","stream":false}')
    expect(sent.at(-1)!.body).toBe('{"model":"gpt-4o","stream":false}')
  })

  it('refuses a completion body it cannot read, as the upstream might read it unmetered', async () => {
    const { app, credential, sent } = await setup()
    // Python's json module reads NaN; JSON.parse does not, so the usage chunk went unasked.
    const body = '{"model":"gpt-4o","stream":true,"temperature":NaN}'
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const res = await post(app, credential, path, body)
      expect(res.status).toBe(400)
      expect(await errorOf(res)).toMatchObject({ code: 'bad_request' })
    }
    expect(sent).toEqual([])
  })

  it('refuses a model with no price to a worker under a dollar budget', async () => {
    const expensive = JSON.stringify({
      object: 'chat.completion',
      model: 'gpt-4-0613',
      usage: { prompt_tokens: 100_000, completion_tokens: 50_000 },
    })
    const { app, service, workerId, credential, sent, spend } = await setup(() => json(expensive))
    // Read to the end: a call is recorded once its answer is.
    const call = async (body: string, path = '/v1/chat/completions') => {
      const res = await post(app, credential, path, body)
      return { status: res.status, body: await res.text() }
    }
    // Without a dollar budget, an unpriced model is only counted (`unpriced`)...
    expect((await call('{"model":"gpt-4"}')).status).toBe(200)
    expect(await spend()).toMatchObject({ costUsd: 0, unpriced: 1 })
    // ... and an answer naming one is charged at the price of the model asked for: at gpt-4o's,
    // 100k in × $2.50 and 50k out × $10 per million.
    expect((await call('{"model":"gpt-4o"}')).status).toBe(200)
    expect((await spend()).costUsd).toBeCloseTo(0.75, 6)
    await service.update({ workerId, budget: { usd: 10 } })
    const unpriced = [
      '{"model":"gpt-4"}',
      '{}',
      // The upstream reads every key, the last of a repeated one, and escapes in names.
      `{"model":"gpt-4o","pad":"${'x'.repeat(5000)}","model":"gpt-4"}`,
      '{"model":"gpt-4o","mod\\u0065l":"gpt-4"}',
      // Not JSON here, so no model the gateway could price.
      '{"model":"gpt-4o","temperature":NaN}',
    ]
    const cases = ['/v1/chat/completions', '/v1/messages'].flatMap((p) =>
      unpriced.map((b): [string, string] => [b, p]),
    )
    for (const [body, path] of cases) {
      const res = await call(body, path)
      expect(res.status, `${path} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(400)
      expect(JSON.parse(res.body).error.message).toMatch(/MODEL_PRICES|JSON object/)
    }
    expect(sent).toHaveLength(2)
    // A priced model still passes, and so do calls that cost nothing.
    expect((await call('{"model":"gpt-4o"}')).status).toBe(200)
    const list = await app.request('/model/modeled/v1/models', {
      headers: { 'x-api-key': credential },
    })
    expect([list.status, await list.text()]).toEqual([200, expensive])
    expect(sent).toHaveLength(4)
  })

  it('refuses a Responses call in the background: it goes on after its answer, unmetered', async () => {
    const { app, credential, sent } = await setup()
    for (const body of [
      '{"model":"gpt-5","background":true}',
      '{"model":"gpt-5","backgroun\\u0064":true,"stream":true}',
    ]) {
      const res = await post(app, credential, '/v1/responses', body)
      expect(res.status).toBe(403)
      expect(await errorOf(res)).toMatchObject({
        code: 'forbidden',
        message: expect.stringContaining('background'),
      })
    }
    expect(sent).toEqual([])
    const res = await post(app, credential, '/v1/responses', '{"model":"gpt-5","background":false}')
    expect(res.status).toBe(200)
  })

  it('holds a worker to a few calls at once: a budget is overshot by those alone', async () => {
    // Answers that stay open until the client goes, as long generations do.
    const { app, credential, sent } = await setup(
      () =>
        new Response(new ReadableStream({ pull: () => new Promise(() => undefined) }), {
          headers: { 'content-type': 'text/event-stream' },
        }),
    )
    const open = await Promise.all(
      Array.from({ length: 16 }, () => post(app, credential, '/v1/messages', '{}')),
    )
    expect(open.map((r) => r.status)).toEqual(Array(16).fill(200))
    const refused = await post(app, credential, '/v1/messages', '{}')
    expect(refused.status).toBe(429)
    expect(await errorOf(refused)).toMatchObject({ code: 'too_many_model_calls' })
    expect(sent).toHaveLength(16)
    // A call that ends frees its place.
    await open[0]!.body!.cancel()
    expect((await post(app, credential, '/v1/messages', '{}')).status).toBe(200)
    await Promise.all(open.slice(1).map((r) => r.body!.cancel()))
  })

  it('charges a stream the client cut before its final usage for what it passed on', async () => {
    const event = (data: object) => `data: ${JSON.stringify(data)}\n\n`
    const delta = { type: 'content_block_delta', delta: { type: 'text_delta', text: 'lorem ' } }
    const cases = [
      {
        path: '/v1/messages',
        // Anthropic counts the output in message_delta, at the end.
        head: event({
          type: 'message_start',
          message: { usage: { input_tokens: 10, output_tokens: 1 } },
        }),
      },
      // OpenAI reports no usage at all before the end.
      {
        path: '/v1/responses',
        head: event({ type: 'response.created', response: { usage: null } }),
      },
    ]
    for (const { path, head } of cases) {
      const answer = head + event(delta).repeat(2000)
      const { app, credential, spend } = await setup(
        () =>
          new Response(
            new ReadableStream({
              start: (ctl) => ctl.enqueue(new TextEncoder().encode(answer)),
              // Still generating: the final usage has not come yet.
              pull: () => new Promise(() => undefined),
            }),
            { headers: { 'content-type': 'text/event-stream' } },
          ),
      )
      const request = `{"model":"gpt-5","stream":true,"input":"${'x'.repeat(4000)}"}`
      const res = await post(app, credential, path, request)
      const reader = res.body!.getReader()
      let read = ''
      while (read.length < answer.length)
        read += new TextDecoder().decode((await reader.read()).value)
      // The agent has the whole answer so far, and hangs up before the usage comes.
      await reader.cancel()
      const s = await spend()
      // At least a token for each delta passed on.
      expect(s.outputTokens, path).toBeGreaterThanOrEqual(2000)
      expect(s.inputTokens, path).toBeGreaterThanOrEqual(path === '/v1/messages' ? 10 : 1000)
    }
  })

  it('charges a call that ends after its worker was deleted to the budgets above it', async () => {
    const sse = FIXTURES.find((f) => f.name === 'anthropic sse')!
    const [first, second] = sse.body.split(/(?<=\n\n)/)
    let pulls = 0
    const { app, service, workerId, credentialOf } = await setup(
      () =>
        new Response(
          new ReadableStream({
            start: (ctl) => {
              ctl.enqueue(new TextEncoder().encode(first))
              ctl.enqueue(new TextEncoder().encode(second))
            },
            pull: () => {
              pulls++
              return new Promise(() => undefined)
            },
          }),
          { headers: { 'content-type': sse.contentType } },
        ),
    )
    await service.update({ workerId, budget: { tokens: 1000 } })
    const child = await service.create(
      { config: workerConfigSchema.parse({ agent: 'modeled' }) },
      { caller: workerId },
      { parentId: workerId },
    )
    const res = await post(app, await credentialOf(child.workerId), '/v1/messages', '{}')
    const reader = res.body!.getReader()
    await reader.read()
    await vi.waitFor(() => expect(pulls).toBe(1))
    // The parent deletes its child while the child's call runs; the call ends with it.
    await service.delete(child, { caller: workerId })
    await reader.cancel()
    expect((await service.status({ workerId })).treeSpend).toMatchObject({
      requests: 1,
      inputTokens: 1210,
    })
    expect(
      await refusal(service.models.route(await credentialOf(workerId), 'modeled')),
    ).toMatchObject({ code: 'budget_exceeded' })
  })
})

describe('the model gateway over a real upstream', () => {
  const servers: Server[] = []
  afterEach(() => servers.splice(0).forEach((s) => s.close()))

  /** A loopback upstream that answers with `body` written in three pieces. */
  const upstream = async (contentType: string, body: string) => {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = []
    const server = createServer((req, res) => {
      seen.push({ url: req.url!, headers: req.headers })
      req.resume()
      res.writeHead(200, { 'content-type': contentType })
      const third = Math.ceil(body.length / 3)
      res.write(body.slice(0, third))
      res.write(body.slice(third, 2 * third))
      res.end(body.slice(2 * third))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
  }

  it('streams an SSE answer through unchanged and records its usage', async () => {
    const sse = FIXTURES.find((f) => f.name === 'anthropic sse')!
    const up = await upstream(sse.contentType, sse.body)
    const { app, credential, spend, events } = await setup(undefined, {
      hostEnv: { K2: REAL_KEY, B: `${up.url}/base/` },
      realFetch: true,
    })
    const res = await app.request('/model/modeled/v1/messages?beta=true', {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}` },
      body: '{"model":"claude-sonnet-4-5","stream":true}',
    })
    expect(res.headers.get('content-type')).toBe(sse.contentType)
    expect(await res.text()).toBe(sse.body)
    expect(up.seen).toMatchObject([
      { url: '/base/v1/messages?beta=true', headers: { authorization: `Bearer ${REAL_KEY}` } },
    ])
    const { model, ...counts } = sse.usage
    const s = await spend()
    expect(s).toMatchObject({ requests: 1, ...counts, unpriced: 0 })
    // claude-sonnet-4: 10 fresh × $3, 1000 read × $0.30, 200 written × $3.75, 50 out × $15.
    expect(s.costUsd).toBeCloseTo(0.00183, 10)
    expect(events.find((e) => e.type === 'usage')).toMatchObject({ plugin: 'modeled', model })
  })

  it('answers 502 model_upstream_error when the upstream is down', async () => {
    const up = await upstream('application/json', '{}')
    const server = servers.pop()!
    await new Promise((resolve) => server.close(resolve))
    const { app, credential, spend } = await setup(undefined, {
      hostEnv: { K2: REAL_KEY, B: up.url },
      realFetch: true,
    })
    // A port nobody listens on any more.
    const res = await app.request('/model/modeled/v1/messages', {
      method: 'POST',
      headers: { 'x-api-key': credential },
      body: '{}',
    })
    expect(res.status).toBe(502)
    expect(await errorOf(res)).toMatchObject({ code: 'model_upstream_error' })
    expect((await spend()).requests).toBe(0)
  })
})
