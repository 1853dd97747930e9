import { BadRequestError, PayloadTooLargeError, SpawnerError } from '../core/errors.ts'
import { findCommand, type Command } from '../core/catalog.ts'
import { httpStatusOf } from '../core/http-status.ts'

/** A stream entry's fields as ioredis returns them: a flat [name, value, name, value…] list. */
export type RawFields = string[]

/** A well-formed request taken from a stream entry. */
export interface Request {
  entryId: string
  requestId: string
  command: Command
  payload: unknown
  replyTo?: string
  /** Set on entries one instance forwarded to another. */
  forwardedBy?: string
  /** The worker that made a forwarded call: the owner applies the rules for workers to it. */
  caller?: string
}

export type Parsed =
  | { ok: true; request: Request }
  | { ok: false; entryId: string; requestId?: string; replyTo?: string; error: SpawnerError }

const toRecord = (fields: RawFields): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!
  return out
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/
const WORKER_ID = /^w-[a-f0-9]{16}$/

/**
 * Reads `request_id`, `command`, `payload` (JSON) and `reply_to` from an entry. Anything
 * malformed is a `bad_request` (or `payload_too_large`) naming the field; the input of the
 * command itself is validated later by its own schema. `refuseReplyTo` says why a `reply_to`
 * may not be used; a refused one is answered on the responses stream.
 */
export const parseEntry = (
  entryId: string,
  fields: RawFields,
  maxPayloadBytes: number,
  refuseReplyTo: (stream: string) => string | undefined = () => undefined,
): Parsed => {
  const f = toRecord(fields)
  const requestId =
    f.request_id !== undefined && REQUEST_ID.test(f.request_id) ? f.request_id : undefined
  const wellFormed = f.reply_to && f.reply_to.length <= 512 ? f.reply_to : undefined
  const refusal = wellFormed === undefined ? undefined : refuseReplyTo(wellFormed)
  const replyTo = refusal === undefined ? wellFormed : undefined
  const fail = (error: SpawnerError): Parsed => ({
    ok: false,
    entryId,
    error,
    ...(requestId ? { requestId } : {}),
    ...(replyTo ? { replyTo } : {}),
  })
  if (f.request_id === undefined) return fail(field('request_id', 'required'))
  if (!requestId)
    return fail(field('request_id', 'must be 1–200 printable characters without spaces'))
  if (f.reply_to !== undefined && !wellFormed)
    return fail(field('reply_to', 'must be a stream name of at most 512 characters'))
  if (refusal !== undefined) return fail(field('reply_to', refusal))
  if (f.caller !== undefined && !WORKER_ID.test(f.caller))
    return fail(field('caller', 'must be a worker id'))
  if (f.command === undefined) return fail(field('command', 'required'))
  const command = findCommand(f.command)
  if (!command)
    return fail(
      new BadRequestError(`command: unknown command '${f.command.slice(0, 100)}'`, [
        { path: 'command', message: 'unknown command' },
      ]),
    )
  const raw = f.payload ?? '{}'
  if (new TextEncoder().encode(raw).length > maxPayloadBytes) {
    return fail(new PayloadTooLargeError(`payload: larger than ${maxPayloadBytes} bytes`))
  }
  let payload: unknown
  try {
    payload = JSON.parse(raw)
  } catch {
    return fail(field('payload', 'not valid JSON'))
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return fail(field('payload', 'must be a JSON object'))
  }
  return {
    ok: true,
    request: {
      entryId,
      requestId,
      command,
      payload,
      ...(replyTo ? { replyTo } : {}),
      ...(f.forwarded_by ? { forwardedBy: f.forwarded_by } : {}),
      ...(f.caller !== undefined ? { caller: f.caller } : {}),
    },
  }
}

const field = (name: string, message: string) =>
  new BadRequestError(`${name}: ${message}`, [{ path: name, message }])

/** The fields of a response entry. */
export const responseFields = (
  answer: { ok: true; result: unknown } | { ok: false; error: SpawnerError },
  meta: { requestId?: string; command?: string; entryId: string },
): string[] => {
  const fields: string[] = []
  if (meta.requestId) fields.push('request_id', meta.requestId)
  if (meta.command) fields.push('command', meta.command)
  fields.push('entry_id', meta.entryId)
  if (answer.ok) fields.push('ok', '1', 'result', JSON.stringify(answer.result))
  else {
    // `status` is the HTTP status the same error has on the HTTP API.
    const error = JSON.stringify(answer.error.toJSON())
    fields.push('ok', '0', 'error', error, 'status', String(httpStatusOf(answer.error)))
  }
  return fields
}

/** Fields of a request entry (for forwarding, and for clients written in TypeScript). */
export const requestFields = (r: {
  requestId: string
  command: string
  payload: unknown
  replyTo?: string
  forwardedBy?: string
  caller?: string
}): string[] => {
  const fields = [
    'request_id',
    r.requestId,
    'command',
    r.command,
    'payload',
    JSON.stringify(r.payload),
  ]
  if (r.replyTo) fields.push('reply_to', r.replyTo)
  if (r.forwardedBy) fields.push('forwarded_by', r.forwardedBy)
  if (r.caller) fields.push('caller', r.caller)
  return fields
}

export { toRecord as fieldsToRecord }
