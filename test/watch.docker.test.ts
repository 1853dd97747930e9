import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenSigner } from '../src/core/auth/jwt.ts'
import { createApp } from '../src/http/app.ts'
import { sseEvents } from './support/sse.ts'
import { api, startHarness, type Harness } from './support/harness.ts'

const API_TOKEN = `watch-test-${randomBytes(8).toString('hex')}`

/** One open watch: the events so far, and a way to wait for one. */
interface Watch {
  events(): [string, any][]
  /** Resolves with the first event matching `match`; rejects if the stream ends first. */
  waitFor(match: (event: string, data: any) => boolean): Promise<[string, any]>
  /** Whether the stream has ended. */
  ended(): boolean
  close(): Promise<void>
}

/** Reads an SSE watch response in the background. */
const reading = (res: Response): Watch => {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let over = false
  const waiters = new Set<() => void>()
  const wake = () => waiters.forEach((w) => w())
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
        wake()
      }
    } catch {
      // Closed by the test.
    }
    over = true
    wake()
  })()
  const find = (match: (event: string, data: any) => boolean) =>
    sseEvents(text).find(([e, d]) => match(e, d))
  return {
    events: () => sseEvents(text),
    ended: () => over,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = find(match)
          if (hit) {
            waiters.delete(check)
            resolve(hit)
          } else if (over) {
            waiters.delete(check)
            reject(new Error(`the watch ended without the event; it sent:\n${text}`))
          }
        }
        waiters.add(check)
        check()
      }),
    close: async () => {
      await reader.cancel().catch(() => undefined)
    },
  }
}

/**
 * Watching files in a real worker through the HTTP API (GET /v1/workers/:id/files/watch):
 * the agent creates, writes and deletes a file and each comes as a `file_changed` event;
 * paths outside the roots (links included) are refused; a worker's own token watches only
 * itself. Through a host agent too (remote project). Nothing here depends on how the runtime
 * watches (the in-worker daemon, or polling).
 */
describe('watching files in a worker', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  let authed: ReturnType<typeof createApp>
  let workerId: string
  let other: string
  const signer = new TokenSigner(randomBytes(32).toString('hex'))
  const opened: Watch[] = []

  /** A shell line run by the agent (uid 1000), through the API. */
  const agent = async (line: string, id = workerId): Promise<string> => {
    const res = await http.post(`/v1/workers/${id}/commands`, { shell: line })
    expect(res.json.exitCode, res.text).toBe(0)
    return res.json.stdout as string
  }
  const watchRes = (id: string, query = '', headers: Record<string, string> = {}) =>
    (headers.authorization ? authed : h.app).request(`/v1/workers/${id}/files/watch${query}`, {
      headers,
    })
  const open = async (id: string, query = '', headers: Record<string, string> = {}) => {
    const res = await watchRes(id, query, headers)
    expect(res.status, res.status === 200 ? '' : await res.text()).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const w = reading(res)
    opened.push(w)
    return w
  }
  /**
   * Waits until the watch reports changes: the agent makes probe files in `dir` one after the
   * other until one of them is seen (a watch starts a little after its stream opens).
   */
  const live = async (w: Watch, dir = '/workspace', id = workerId) => {
    const probe = `${dir}/.probe-${randomBytes(3).toString('hex')}-`
    const seen = () => w.events().some(([, d]) => String(d.path).startsWith(probe))
    for (let i = 0; !seen(); i++) {
      if (w.ended()) throw new Error(`the watch ended: ${JSON.stringify(w.events())}`)
      if (i === 1000) throw new Error('no probe file was ever reported')
      await agent(`touch ${probe}${i}`, id)
    }
  }
  const isChange = (type: string, path: string) => (event: string, d: any) =>
    event === 'file_changed' && d.type === type && d.path === path

  beforeAll(async () => {
    h = await startHarness()
    http = api(h.app)
    authed = createApp({ service: h.service, auth: { apiToken: API_TOKEN, signer } })
    const create = async () => {
      const res = await http.post('/v1/workers', { agent: 'shell', labels: h.runLabel })
      expect(res.status, res.text).toBe(201)
      return res.json.workerId as string
    }
    ;[workerId, other] = await Promise.all([create(), create()])
  })
  afterAll(async () => {
    await Promise.all(opened.map((w) => w.close()))
    await h?.cleanup()
  })

  it('reports a file created, written and deleted by the agent, in that order', async () => {
    await agent('mkdir -p /workspace/src')
    const w = await open(workerId, '?path=/workspace/src')
    await live(w, '/workspace/src')
    const file = '/workspace/src/a.txt'

    await agent(`printf one > ${file}`)
    const [, created] = await w.waitFor(isChange('created', file))
    expect(created).toEqual({ type: 'created', path: file, dir: false })

    await agent(`printf ' and a longer second line' >> ${file}`)
    await w.waitFor(isChange('changed', file))

    await agent(`rm ${file}`)
    await w.waitFor(isChange('deleted', file))

    const mine = w
      .events()
      .filter(([e, d]) => e === 'file_changed' && d.path === file)
      .map(([, d]) => d.type)
    expect(mine[0]).toBe('created')
    expect(mine.at(-1)).toBe('deleted')
    expect(mine.indexOf('changed')).toBeGreaterThan(0)
    await w.close()
  })

  it('watches below the path when recursive, and reports directories as such', async () => {
    const w = await open(workerId)
    await live(w)
    await agent('mkdir -p /workspace/deep/er && printf x > /workspace/deep/er/f')
    const [, dir] = await w.waitFor(isChange('created', '/workspace/deep'))
    expect(dir.dir).toBe(true)
    await w.waitFor(isChange('created', '/workspace/deep/er/f'))
    await w.close()
  })

  it('refuses a path outside the roots, and a link that leads out of them', async () => {
    await agent('ln -sfn /etc /workspace/etc-link && ln -sfn / /tmp/root-link')
    for (const path of [
      '/etc',
      '/',
      '/workspace/../etc',
      '/workspace/etc-link',
      '/tmp/root-link/etc',
    ]) {
      const res = await watchRes(workerId, `?path=${encodeURIComponent(path)}`)
      expect(res.status, path).toBe(400)
      const body = (await res.json()) as { error: { code: string } }
      expect(body.error.code, path).toBe('path_not_allowed')
    }
    const missing = await watchRes(workerId, '?path=/workspace/nope')
    expect(missing.status).toBe(404)
  })

  it("lets a worker's token watch its own worker only", async () => {
    const token = await signer.sign({
      sub: workerId,
      tools: ['file'],
      exp: Math.floor(Date.now() / 1000) + 600,
    })
    const bearer = { authorization: `Bearer ${token}` }
    const foreign = await watchRes(other, '', bearer)
    expect(foreign.status).toBe(403)
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe(
      'not_your_worker',
    )
    const outside = await watchRes(workerId, '?path=/etc', bearer)
    expect(outside.status).toBe(400)

    const w = await open(workerId, '?path=/tmp', bearer)
    await live(w, '/tmp')
    await agent('printf y > /tmp/mine')
    await w.waitFor(isChange('created', '/tmp/mine'))
    // What happens in the other worker never reaches this stream.
    await agent('printf z > /tmp/theirs', other)
    await agent('printf y > /tmp/mine-2')
    await w.waitFor(isChange('created', '/tmp/mine-2'))
    expect(w.events().some(([, d]) => d.path === '/tmp/theirs')).toBe(false)
    await w.close()
  })

  it('ends the stream when the worker is deleted', async () => {
    const w = await open(other)
    await live(w, '/workspace', other)
    expect((await http.del(`/v1/workers/${other}`)).status).toBe(200)
    const [, end] = await w.waitFor((e) => e === 'end')
    expect(end).toMatchObject({ workerId: other, ended: 'worker_gone' })
  })
})
