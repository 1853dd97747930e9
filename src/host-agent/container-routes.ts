import type { Context, Hono } from 'hono'
import { BadRequestError, NotFoundError } from '../core/errors.ts'
import { parseInput } from '../core/validation.ts'
import type { AgentDeps } from './deps.ts'
import { ndjsonResponse } from './ndjson-response.ts'
import { bodyCap, jsonBody } from './request-body.ts'
import {
  checkpointTagSchema,
  commitBodySchema,
  containerSpecSchema,
  getFileQuerySchema,
  logsQuerySchema,
  putFileQuerySchema,
} from './schemas.ts'
import { NO_SUCH_CONTAINER } from '../remote/wire.ts'

/** `label=k=v` → `{ k: 'v' }`, `label=k` → `{ k: undefined }` (present, any value). */
const labelQuery = (values: string[] | undefined): Record<string, string | undefined> =>
  Object.fromEntries(
    (values ?? []).map((v) => {
      const at = v.indexOf('=')
      if (at === 0) throw new BadRequestError(`label: '${v}' has no key`)
      return at < 0 ? [v, undefined] : [v.slice(0, at), v.slice(at + 1)]
    }),
  )

/** A files query with every `roots` value (`query()` keeps only the first of each key). */
const filesQuery = (c: Context): Record<string, unknown> => {
  const roots = c.req.queries('roots')
  return { ...c.req.query(), ...(roots ? { roots } : {}) }
}

/** `FileAccess` from a parsed files query, without absent keys. */
const accessOf = (q: { uid?: number; gid?: number; roots?: string[] }) => ({
  ...(q.uid !== undefined ? { uid: q.uid } : {}),
  ...(q.gid !== undefined ? { gid: q.gid } : {}),
  ...(q.roots !== undefined ? { roots: q.roots } : {}),
})

/** Containers: create, inspect, list, remove, pause, files and logs. */
export const registerContainerRoutes = (app: Hono, deps: AgentDeps): void => {
  const { runtime } = deps
  const limit = bodyCap(deps.maxBodyBytes)

  app.get('/v1/containers', async (c) => {
    const containers = await runtime.list(labelQuery(c.req.queries('label')))
    return c.json({ containers })
  })

  app.post('/v1/containers', limit, async (c) => {
    const spec = parseInput(containerSpecSchema, await jsonBody(c.req.raw), 'container spec')
    return c.json({ id: await runtime.run(spec) }, 201)
  })

  // Checkpoints: only images named and labelled as checkpoints are made, listed or removed.
  app.post('/v1/containers/:id/commit', limit, async (c) => {
    const body = parseInput(commitBodySchema, await jsonBody(c.req.raw), 'commit')
    const { tag, ...opts } = body
    return c.json(await runtime.commit(c.req.param('id'), tag, opts), 201)
  })

  app.get('/v1/checkpoints', async (c) => {
    return c.json({ images: await runtime.listImages(labelQuery(c.req.queries('label'))) })
  })

  app.get('/v1/checkpoints/:tag', async (c) => {
    const tag = parseInput(checkpointTagSchema, c.req.param('tag'), 'checkpoint tag')
    return c.json({ image: (await runtime.checkpointImage(tag)) ?? null })
  })

  app.delete('/v1/checkpoints/:tag', async (c) => {
    const tag = parseInput(checkpointTagSchema, c.req.param('tag'), 'checkpoint tag')
    await runtime.removeImage(tag)
    return c.body(null, 204)
  })

  app.get('/v1/containers/:id', async (c) => {
    const info = await runtime.inspect(c.req.param('id'))
    if (!info) throw new NotFoundError(`No such container: ${c.req.param('id')}`, NO_SUCH_CONTAINER)
    return c.json(info)
  })

  app.delete('/v1/containers/:id', async (c) => {
    await runtime.remove(c.req.param('id'))
    return c.body(null, 204)
  })

  app.post('/v1/containers/:id/pause', async (c) => {
    await runtime.pause(c.req.param('id'))
    return c.body(null, 204)
  })

  app.post('/v1/containers/:id/unpause', async (c) => {
    await runtime.unpause(c.req.param('id'))
    return c.body(null, 204)
  })

  app.put('/v1/containers/:id/files', limit, async (c) => {
    const q = parseInput(putFileQuerySchema, filesQuery(c), 'file query')
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    const opts = { ...(q.mode !== undefined ? { mode: q.mode } : {}), ...accessOf(q) }
    await runtime.putFile(c.req.param('id'), q.path, bytes, opts)
    return c.body(null, 204)
  })

  app.get('/v1/containers/:id/files', async (c) => {
    const q = parseInput(getFileQuerySchema, filesQuery(c), 'file query')
    const opts = { ...(q.maxBytes !== undefined ? { maxBytes: q.maxBytes } : {}), ...accessOf(q) }
    const bytes = await runtime.getFile(c.req.param('id'), q.path, opts)
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.byteLength),
    })
  })

  app.get('/v1/containers/:id/logs', async (c) => {
    const id = c.req.param('id')
    const q = parseInput(logsQuerySchema, c.req.query(), 'logs query')
    const req = {
      ...(q.tail !== undefined ? { tail: q.tail } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.maxBytes !== undefined ? { maxBytes: q.maxBytes } : {}),
    }
    if (q.follow !== '1') return c.json(await runtime.logs(id, req))
    return ndjsonResponse(
      c.req.raw.signal,
      (emit, signal) => runtime.followLogs(id, req, (line) => emit({ line }), signal),
      deps.stream,
    )
  })
}
