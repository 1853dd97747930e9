import { describe, expect, it } from 'vitest'
import { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.ts'
import {
  BadRequestError,
  ConflictError,
  describeError,
  errorOfCode,
  ForbiddenError,
  NotFoundError,
  SpawnerError,
  toSpawnerError,
  UnavailableError,
} from './errors.ts'
import { HTTP_STATUS, httpStatusOf } from './http-status.ts'

/** The status each code is answered with: the API's contract, written out once more. */
const ANSWERED: Record<number, readonly ErrorCode[]> = {
  400: [
    'bad_request',
    'http_error',
    'path_not_allowed',
    'permission_denied',
    'mount_not_allowed',
    'capability_not_allowed',
    'runtime_not_allowed',
    'runtime_conflict',
    'runtime_unavailable',
    'network_unavailable',
    'missing_secret',
    'missing_requirement',
    'plugin_error',
    'plugin_unavailable',
    'host_file_unavailable',
    'host_file_unreadable',
    'resume_mismatch',
    'permissions_unsupported',
  ],
  401: ['unauthorized', 'worker_token_required'],
  403: [
    'forbidden',
    'host_not_allowed',
    'cross_origin',
    'tool_not_allowed',
    'not_your_worker',
    'not_your_instance',
    'not_wider_than_parent',
    'preview_link_invalid',
    'quota_exceeded',
    'permissions_required',
    'ttl_not_allowed',
    'network_not_allowed',
    'budget_exceeded',
  ],
  404: [
    'not_found',
    'route_not_found',
    'worker_not_found',
    'unknown_plugin',
    'no_such_container',
    'no_such_exec',
    'transcript_not_found',
    'session_not_found',
    'checkpoint_not_found',
    'permission_request_not_found',
  ],
  409: [
    'conflict',
    'worker_busy',
    'agent_unavailable',
    'stream_not_forwarded',
    'helper_env_unsafe',
    'checkpoint_in_use',
    'permission_request_closed',
    'permissions_off',
    'terminal_unavailable',
    'watch_unavailable',
  ],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  429: [
    'too_many_commands',
    'worker_limit',
    'too_many_model_calls',
    'too_many_terminals',
    'too_many_previews',
    'too_many_watches',
  ],
  499: ['cancelled'],
  500: ['internal', 'dead_lettered', 'image_build_failed', 'exec_stdin_dir'],
  502: [
    'docker_error',
    'agent_error',
    'host_agent_error',
    'remote_error',
    'worker_api_unreachable',
    'model_upstream_error',
    'port_not_listening',
    'preview_upstream_error',
  ],
  503: [
    'unavailable',
    'not_ready',
    'not_configured',
    'shutting_down',
    'interrupted',
    'owner_timeout',
    'helper_timeout',
    'client_too_slow',
    'too_many_streams',
    'host_agent_unauthorized',
    'preview_timeout',
  ],
}

describe('error codes', () => {
  it('map every code to the status it is answered with, and no other code exists', () => {
    const codes = Object.keys(ERROR_CODES) as ErrorCode[]
    for (const code of codes) expect(HTTP_STATUS[ERROR_CODES[code]], code).toBeTypeOf('number')
    const byStatus: Record<number, ErrorCode[]> = {}
    for (const code of codes) (byStatus[httpStatusOf(code)] ??= []).push(code)
    for (const list of Object.values(byStatus)) list.sort()
    const expected = Object.fromEntries(
      Object.entries(ANSWERED).map(([status, list]) => [status, [...list].sort()]),
    )
    expect(byStatus).toEqual(expected)
  })

  it('give an error the kind of its code, and its status through httpStatusOf only', () => {
    const e = new ForbiddenError('no', 'quota_exceeded')
    expect(e.kind).toBe('forbidden')
    expect(httpStatusOf(e)).toBe(403)
    expect('status' in e).toBe(false)
    expect(httpStatusOf(new SpawnerError('too_many_commands', 'busy'))).toBe(429)
  })

  it('reject a code not in the table, or of another kind, at compile time', () => {
    // @ts-expect-error: not a code of the table
    const unknown = new SpawnerError('no_such_code', 'x')
    // @ts-expect-error: a conflict's code on a ForbiddenError
    const wrongKind = new ForbiddenError('x', 'worker_busy')
    // @ts-expect-error: a free string, however it was made
    const free = new NotFoundError('x', String('not_found'))
    expect([unknown, wrongKind, free]).toHaveLength(3)
    expect(isErrorCode('no_such_code')).toBe(false)
    expect(isErrorCode('toString')).toBe(false)
    expect(isErrorCode('worker_busy')).toBe(true)
  })

  it('rebuild the class of a code, details kept', () => {
    const cases: [ErrorCode, new (...args: never[]) => SpawnerError][] = [
      ['path_not_allowed', BadRequestError],
      ['no_such_container', NotFoundError],
      ['worker_busy', ConflictError],
      ['not_wider_than_parent', ForbiddenError],
      ['interrupted', UnavailableError],
      ['docker_error', SpawnerError],
    ]
    for (const [code, cls] of cases) {
      const e = errorOfCode(code, 'm', { details: [{ path: 'p' }] })
      expect(e, code).toBeInstanceOf(cls)
      expect(e.toJSON()).toEqual({ code, message: 'm', details: [{ path: 'p' }] })
    }
  })
})

describe('causes', () => {
  const secret = new Error('open /home/op/.config/token: sk-live-0123456789')

  it('are kept by the wrapping error', () => {
    const internal = toSpawnerError(secret)
    expect(internal.code).toBe('internal')
    expect(internal.cause).toBe(secret)
    expect(new NotFoundError('gone', 'not_found', { cause: secret }).cause).toBe(secret)
    expect(new BadRequestError('bad', undefined, 'bad_request', { cause: secret }).cause).toBe(
      secret,
    )
    expect('cause' in new SpawnerError('internal', 'no cause')).toBe(false)
  })

  it('are never serialized: the answer is code, message and details', () => {
    const e = new SpawnerError('docker_error', 'docker: refused', {
      details: { exitCode: 1 },
      cause: secret,
    })
    expect(e.toJSON()).toEqual({
      code: 'docker_error',
      message: 'docker: refused',
      details: { exitCode: 1 },
    })
    expect(JSON.stringify(e)).not.toMatch(/sk-live|\.config/)
    expect(JSON.stringify(toSpawnerError(secret))).toBe(
      '{"code":"internal","message":"internal error"}',
    )
  })

  it('are described for the logs, down the chain', () => {
    const docker = new Error('connect ENOENT /var/run/docker.sock')
    const outer = new SpawnerError('docker_error', 'docker: refused', {
      cause: new UnavailableError('engine away', 'unavailable', { cause: docker }),
    })
    expect(describeError(outer)).toBe(
      'docker: refused ← engine away ← connect ENOENT /var/run/docker.sock',
    )
    expect(describeError(toSpawnerError('thrown string'))).toBe('internal error ← thrown string')
    expect(describeError({ code: 'x', message: 'y' })).toBe('{"code":"x","message":"y"}')
  })
})
