import { describe, expect, it } from 'vitest'
import { ConflictError, SpawnerError, UnavailableError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import { forwardedError } from '../redis/forwarder.ts'
import { errorFromWire } from './wire-errors.ts'

describe('errors read from a wire', () => {
  it("are the host agent's, as thrown in-process, with its answer as cause", () => {
    const body = { error: { code: 'worker_busy', message: 'busy', details: { n: 1 } } }
    const e = errorFromWire(409, body, 'a')
    expect(e).toBeInstanceOf(ConflictError)
    expect(e.toJSON()).toEqual(body.error)
    expect(httpStatusOf(e)).toBe(409)
    expect(e.cause).toEqual(body.error)
  })

  it('name a code this version does not know, as a 502 host_agent_error', () => {
    const e = errorFromWire(418, { error: { code: 'brand_new', message: 'hm' } }, 'a')
    expect(e.toJSON()).toEqual({
      code: 'host_agent_error',
      message: "host agent a: hm (code 'brand_new') (is it the same version as the core?)",
    })
    expect(httpStatusOf(e)).toBe(502)
  })

  it('make a refused token the 503 host_agent_unauthorized, and a page a 502', () => {
    const refused = errorFromWire(401, { error: { code: 'unauthorized', message: 'no' } }, 'a')
    expect(refused).toBeInstanceOf(UnavailableError)
    expect(refused.code).toBe('host_agent_unauthorized')
    const page = errorFromWire(502, '<html>bad gateway</html>', 'a')
    const json = { code: 'host_agent_error', message: 'host agent a answered 502' }
    expect(page.toJSON()).toEqual(json)
    expect(page.cause).toBe('<html>bad gateway</html>')
  })

  it("are another instance's Redis answer, as thrown there", () => {
    const answer = { code: 'not_wider_than_parent', message: 'wider', details: [{ path: 'x' }] }
    const e = forwardedError(JSON.stringify(answer), 'b')
    expect(e).toBeInstanceOf(SpawnerError)
    expect(e.toJSON()).toEqual(answer)
    expect(httpStatusOf(e)).toBe(403)
    expect(e.cause).toEqual(answer)
    expect(forwardedError(undefined, 'b').toJSON()).toEqual({
      code: 'remote_error',
      message: 'remote error',
    })
    const odd = forwardedError(JSON.stringify({ code: 'brand_new', message: 'hm' }), 'b')
    expect(odd.toJSON()).toEqual({
      code: 'remote_error',
      message: "instance 'b' answered the unknown code 'brand_new': hm",
    })
  })
})
