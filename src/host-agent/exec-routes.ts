import type { Hono } from 'hono'
import { ConflictError, NotFoundError } from '../core/errors.ts'
import { canWatch, type ExecRequest } from '../core/runtime.ts'
import { parseInput } from '../core/validation.ts'
import type { AgentDeps } from './deps.ts'
import { ndjsonResponse } from './ndjson-response.ts'
import { bodyCap, jsonBody } from './request-body.ts'
import { execBodySchema, watchBodySchema } from './schemas.ts'

/**
 * `POST /v1/containers/:id/watch` streams a directory's changes as NDJSON (see wire.ts).
 * `POST /v1/containers/:id/exec` streams the output as NDJSON and ends with the result. The
 * exec is aborted (its process tree killed) when the client disconnects, or when it is
 * cancelled by its `execId`, which lets the client still read the result of a cancelled run.
 */
export const registerExecRoutes = (app: Hono, deps: AgentDeps): void => {
  const running = new Map<string, AbortController>()
  const limit = bodyCap(deps.maxBodyBytes)

  app.post('/v1/containers/:id/exec', limit, async (c) => {
    const id = c.req.param('id')
    const { execId, ...body } = parseInput(execBodySchema, await jsonBody(c.req.raw), 'exec')
    return ndjsonResponse(
      c.req.raw.signal,
      async (emit, signal) => {
        const cancel = new AbortController()
        const onGone = () => cancel.abort()
        signal.addEventListener('abort', onGone, { once: true })
        if (execId) running.set(execId, cancel)
        const req: ExecRequest = {
          ...body,
          signal: cancel.signal,
          onOutput: (stream, data) => emit({ stream, data }),
        }
        try {
          return await deps.runtime.exec(id, req)
        } finally {
          signal.removeEventListener('abort', onGone)
          if (execId && running.get(execId) === cancel) running.delete(execId)
        }
      },
      deps.stream,
    )
  })

  // Streams `{ change }` lines until the client leaves (the watch ends with it) or the
  // container goes (`{ result: null }`); a watch that cannot start is an ordinary error answer.
  app.post('/v1/containers/:id/watch', limit, async (c) => {
    const id = c.req.param('id')
    const body = parseInput(watchBodySchema, await jsonBody(c.req.raw), 'watch')
    const runtime = deps.runtime
    if (!canWatch(runtime)) {
      throw new ConflictError("this host's runtime cannot watch files", 'watch_unavailable')
    }
    return ndjsonResponse(
      c.req.raw.signal,
      async (emit, signal) => {
        await runtime.watch(id, { ...body, signal, onChange: (change) => emit({ change }) })
        return null
      },
      deps.stream,
    )
  })

  app.delete('/v1/execs/:execId', (c) => {
    const execId = c.req.param('execId')
    const exec = running.get(execId)
    if (!exec) throw new NotFoundError(`no running exec '${execId}'`, 'no_such_exec')
    exec.abort()
    return c.body(null, 204)
  })
}
