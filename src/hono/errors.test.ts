import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { NotFoundError, SpawnerError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import { WorkerService } from '../core/service.ts'
import { createApp } from '../http/app.ts'
import { onError } from './errors.ts'

const SECRET = 'sk-live-0123456789 at /srv/spawner/.env'

/** A logger that keeps what it is given. */
const recorder = () => {
  const lines: { level: string; msg: string; fields?: object }[] = []
  const at = (level: string) => (msg: string, fields?: object) =>
    void lines.push({ level, msg, ...(fields ? { fields } : {}) })
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  }
  return { logger, lines }
}

/** The real app over a runtime whose every call throws `err`. */
const appThrowing = (err: unknown, logger: Logger) => {
  const runtime = new Proxy({} as ContainerRuntime, {
    get: () => async () => {
      throw err
    },
  })
  const plugins = PluginRegistry.fromModules([])
  const service = new WorkerService({
    runtime,
    plugins: () => plugins,
    baseImage: 'i',
    hostEnv: {},
  })
  return createApp({ service, logger })
}

describe('error answers', () => {
  it('answer an internal error without its cause, which only the log holds', async () => {
    const { logger, lines } = recorder()
    const res = await appThrowing(new Error(SECRET), logger).request('/v1/workers')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } })
    expect(text).not.toContain('sk-live')
    const logged = lines.find((l) => l.level === 'error' && l.msg === 'request failed')
    expect(logged?.fields).toMatchObject({ code: 'internal', error: SECRET })
  })

  it('answer a wrapping 5xx with its message only, and log what is under it', async () => {
    const { logger, lines } = recorder()
    const cause = Object.assign(new Error(`engine said: ${SECRET}`), { statusCode: 500 })
    const err = new SpawnerError('docker_error', 'docker: refused', { cause })
    const res = await appThrowing(err, logger).request('/v1/workers')
    expect(res.status).toBe(502)
    const text = await res.text()
    const body = { error: { code: 'docker_error', message: 'docker: refused' } }
    expect(JSON.parse(text)).toEqual(body)
    expect(text).not.toContain('sk-live')
    const logged = lines.find((l) => l.msg === 'request failed')
    expect(logged?.fields).toMatchObject({ error: `docker: refused ← engine said: ${SECRET}` })
  })

  it('log no 4xx, and answer its status from its code', async () => {
    const { logger, lines } = recorder()
    const err = new NotFoundError('No such container: x', 'no_such_container', {
      cause: new Error(SECRET),
    })
    const res = await appThrowing(err, logger).request('/v1/workers')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: { code: 'no_such_container', message: 'No such container: x' },
    })
    expect(lines.filter((l) => l.level === 'error')).toEqual([])
  })

  it("keep the status of Hono's own refusals", async () => {
    const app = new Hono()
    app.onError(onError(recorder().logger))
    app.get('/big', () => {
      throw new HTTPException(413, { message: 'too big' })
    })
    app.get('/odd', () => {
      throw new HTTPException(418, { message: 'teapot' })
    })
    const big = await app.request('/big')
    expect(big.status).toBe(413)
    expect(await big.json()).toEqual({ error: { code: 'payload_too_large', message: 'too big' } })
    const odd = await app.request('/odd')
    expect(odd.status).toBe(418)
    expect(await odd.json()).toEqual({ error: { code: 'http_error', message: 'teapot' } })
  })
})
