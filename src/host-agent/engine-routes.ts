import type { Hono } from 'hono'
import { BadRequestError } from '../core/errors.ts'
import { base64ToBytes } from '../core/bytes.ts'
import { parseInput } from '../core/validation.ts'
import type { AgentDeps } from './deps.ts'
import { ndjsonResponse } from './ndjson-response.ts'
import { bodyCap, jsonBody } from './request-body.ts'
import { buildBodySchema } from './schemas.ts'
import type { HostCapacity } from '../remote/wire.ts'

const decode = (content: string, path: string): Uint8Array => {
  try {
    return base64ToBytes(content)
  } catch {
    throw new BadRequestError(`files: content of ${path} is not valid base64`)
  }
}

/** The engine as a whole: ping, runtimes, capacity, images and builds. */
export const registerEngineRoutes = (app: Hono, deps: AgentDeps): void => {
  const { runtime } = deps

  app.get('/v1/ping', async (c) => {
    await runtime.ping()
    return c.json({ ok: true })
  })

  app.get('/v1/runtimes', async (c) => c.json({ runtimes: await runtime.runtimes() }))

  app.get('/v1/capacity', async (c) => {
    const image = c.req.query('image')
    const [report, present] = await Promise.all([
      deps.capacity(),
      image ? runtime.hasImage(image) : undefined,
    ])
    const capacity: HostCapacity = {
      name: deps.name,
      ...report,
      ...(present !== undefined ? { image: present } : {}),
    }
    return c.json(capacity)
  })

  app.get('/v1/images', async (c) => {
    const tag = c.req.query('tag')
    if (!tag) throw new BadRequestError('tag: required')
    return c.json({ id: (await runtime.imageId(tag)) ?? null })
  })

  app.post('/v1/images', bodyCap(deps.maxBodyBytes), async (c) => {
    const body = parseInput(buildBodySchema, await jsonBody(c.req.raw), 'image build')
    const files = (body.files ?? []).map((f) => ({
      path: f.path,
      content: decode(f.content, f.path),
      ...(f.mode !== undefined ? { mode: f.mode } : {}),
    }))
    return ndjsonResponse(
      c.req.raw.signal,
      (emit) =>
        runtime.buildImage(body.tag, body.dockerfile, {
          files,
          ...(body.labels ? { labels: body.labels } : {}),
          onProgress: (progress) => emit({ progress }),
        }),
      deps.stream,
    )
  })
}
