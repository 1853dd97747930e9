import { createHmac } from 'node:crypto'
import { catalog, findCommand } from '../../src/core/catalog.ts'
import type { HttpCase } from './http-cases.ts'
import { toJsonText, toQueryText } from './mutations.ts'
import { checkErrorJson, checkOutput, FuzzFailure, isAgentFailure, short } from './invariants.ts'
import { resolveRefs, WorkerRef, type FuzzTarget } from './target.ts'

const TOOLS = [...new Set(catalog.map((c) => c.permission))]
const b64url = (bytes: Buffer | Uint8Array) => Buffer.from(bytes).toString('base64url')
const HEADER = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))

/** A JWT over any claims text, signed with the service's real secret. */
export const signClaims = (secret: string, claims: unknown, tamper: boolean) => {
  const payload = b64url(Buffer.from(toJsonText(claims)))
  const sig = b64url(createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest())
  // A changed payload under the old signature: a forgery.
  return `${HEADER}.${tamper ? payload.slice(0, -1) + (payload.endsWith('A') ? 'B' : 'A') : payload}.${sig}`
}

/**
 * encodeURIComponent that also takes lone surrogates, as the bytes WTF-8 gives them
 * (`%ED%A0%80`): not UTF-8, which is the point.
 */
export const encodeAny = (text: string) => {
  let out = ''
  for (const ch of text) {
    const c = ch.charCodeAt(0)
    const lone = ch.length === 1 && c >= 0xd800 && c <= 0xdfff
    out += lone
      ? [0xed, 0xa0 | ((c >> 6) & 0x1f), 0x80 | (c & 0x3f)]
          .map((b) => `%${b.toString(16).toUpperCase()}`)
          .join('')
      : encodeURIComponent(ch)
  }
  return out
}

const idText = (id: unknown, ids: readonly string[]) => {
  if (id instanceof WorkerRef) return ids[id.index % ids.length]!
  if (id === undefined) return ''
  const text = toQueryText(id)
  // Text that already holds escapes goes as is, so `%2e%2e` and friends reach the router.
  return text.includes('%') ? text : encodeAny(text)
}

/** The Request a case describes, or undefined when fetch itself refuses to build it. */
export const buildRequest = (
  c: HttpCase,
  target: FuzzTarget,
  ids: readonly string[],
): Request | undefined => {
  const path = c.path.replace('{id}', idText(c.id, ids))
  const params = c.query.map(
    ([k, v]) => `${encodeAny(k)}=${encodeAny(toQueryText(resolveRefs(v, ids)))}`,
  )
  if (c.rawQuery) params.push(c.rawQuery)
  const url = `http://${c.host}${path}${params.length ? `?${params.join('&')}` : ''}`
  const headers: Record<string, string> = {}
  if (c.contentType !== undefined) headers['content-type'] = c.contentType
  if (c.accept !== undefined) headers.accept = c.accept
  if (c.origin !== undefined) headers.origin = c.origin
  if (c.site !== undefined) headers['sec-fetch-site'] = c.site
  const operator = target.operatorAuth[c.app]
  if (c.auth.kind === 'usual' && target.workerApps.includes(c.app)) {
    const claims = {
      iss: 'workers-spawner',
      sub: resolveRefs(c.auth.worker, ids),
      tools: TOOLS,
      iat: 0,
      exp: 4102444800,
    }
    headers.authorization = `Bearer ${signClaims(target.tokenSecret, claims, false)}`
  } else if ((c.auth.kind === 'operator' || c.auth.kind === 'usual') && operator) {
    headers.authorization = operator
  }
  if (c.auth.kind === 'header') headers.authorization = c.auth.value
  if (c.auth.kind === 'signed') {
    headers.authorization = `Bearer ${signClaims(target.tokenSecret, resolveRefs(c.auth.claims, ids), c.auth.tamper)}`
  }
  const init: RequestInit = { method: c.method, headers }
  if (c.method !== 'GET' && c.method !== 'HEAD' && c.body.kind !== 'none') {
    init.body = c.body.kind === 'text' ? c.body.text : (c.body.bytes as Uint8Array<ArrayBuffer>)
  }
  try {
    return new Request(url, init)
  } catch {
    return undefined
  }
}

/** Longest a single request may take before it counts as a hang. */
const HANG_MS = 30_000

/**
 * Sends one case to its app and checks the answer: never 5xx, every refusal the error JSON,
 * every JSON success the command's output schema. Returns the tally key (`status code`).
 */
export const runHttpCase = async (c: HttpCase, target: FuzzTarget): Promise<string> => {
  const ids = await target.workers()
  const req = buildRequest(c, target, ids)
  if (!req) return 'unsendable'
  const what = `${c.method} ${short(req.url, 300)} (app ${c.app})`
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FuzzFailure(`no answer within ${HANG_MS} ms`, what)),
      HANG_MS,
    )
  })
  try {
    const res = await Promise.race([target.apps[c.app]!.request(req), hang])
    return await Promise.race([checkResponse(res, c, what), hang])
  } finally {
    clearTimeout(timer)
  }
}

const checkResponse = async (res: Response, c: HttpCase, what: string): Promise<string> => {
  const type = res.headers.get('content-type') ?? ''
  if (res.status >= 500) {
    const text = await res.text()
    const code = (() => {
      try {
        return (JSON.parse(text) as { error?: { code?: string } }).error?.code
      } catch {
        return undefined
      }
    })()
    if (!isAgentFailure(res.status, code))
      throw new FuzzFailure(`answered ${res.status}: ${short(text, 500)}`, what)
    return `${res.status} ${checkErrorJson(text, what)}`
  }
  if (type.startsWith('text/event-stream')) {
    if (res.status !== 200) throw new FuzzFailure(`SSE with status ${res.status}`, what)
    return readSse(res, c, what)
  }
  if (res.status < 200 || res.status >= 300) {
    const text = await res.text()
    if (c.method === 'HEAD' && text === '') return `${res.status} (HEAD)`
    if (!type.startsWith('application/json')) {
      throw new FuzzFailure(
        `answered ${res.status} as '${type}', not the error JSON: ${short(text, 300)}`,
        what,
      )
    }
    return `${res.status} ${checkErrorJson(text, what)}`
  }
  const cmd = c.command === undefined ? undefined : findCommand(c.command)
  const served = cmd && c.method === cmd.http.method.toUpperCase()
  if (c.method === 'HEAD') {
    await res.arrayBuffer()
  } else if (type.startsWith('application/json')) {
    const text = await res.text()
    if (served) checkOutput(cmd, text, what)
    else JSON.parse(text)
  } else {
    await res.arrayBuffer()
  }
  return `${res.status}`
}

/**
 * A command's SSE answer runs to its end (the memory runtime answers at once; Docker runs are
 * given short timeouts): every `error` event is the error JSON, the `result` fits the schema.
 * Endless streams (logs?follow=1, /v1/events), and commands the case says to leave, are
 * cancelled after their headers, as by a client that goes away.
 */
const readSse = async (res: Response, c: HttpCase, what: string): Promise<string> => {
  if (c.command !== 'send_command' || c.method !== 'POST' || c.leave) {
    await res.body?.cancel()
    return '200 (stream)'
  }
  const text = await res.text()
  const events = text.split('\n\n').filter((b) => b.trim() !== '')
  let last = ''
  for (const block of events) {
    const event = /^event: (.*)$/m.exec(block)?.[1]
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .join('\n')
    if (event === 'error') last = `200 (stream) ${checkErrorJson(data, what)}`
    if (event === 'result') {
      checkOutput(findCommand('send_command')!, data, what)
      last = '200 (stream)'
    }
  }
  if (!last)
    throw new FuzzFailure(`SSE ended without a result or error event: ${short(text, 300)}`, what)
  return last
}
