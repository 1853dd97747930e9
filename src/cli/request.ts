import type { HttpBinding } from '../core/commands.ts'

/**
 * The request for a command's input, as its HTTP binding reads it: path parameters, then the
 * JSON body, or query parameters (a raw body comes apart).
 */
export const requestFor = (http: HttpBinding, input: Record<string, unknown>) => {
  const used = new Set<string>()
  const take = (field: string) => {
    used.add(field)
    return input[field]
  }
  const path = http.path.replace(/:(\w+)/g, (_, param: string) =>
    encodeURIComponent(String(take(http.params?.[param] ?? param))),
  )
  let body: unknown
  if (http.body === 'config') body = take(http.bodyField ?? 'config')
  const rest = Object.entries(input).filter(([k, v]) => !used.has(k) && v !== undefined)
  if (http.body === 'json') body = Object.fromEntries(rest)
  const inBody = http.body === 'json' || http.body === 'config'
  const query = inBody ? [] : rest.flatMap(([k, v]) => queryParams(http, k, v))
  const search = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
  const url = search.length ? `${path}?${search.join('&')}` : path
  return { method: http.method.toUpperCase(), path: url, body }
}

const queryParams = (http: HttpBinding, field: string, value: unknown): [string, string][] => {
  const special = Object.entries(http.query ?? {}).find(([, q]) => q.field === field)
  if (special) {
    const pairs = Object.entries(value as Record<string, string>)
    return pairs.map(([k, v]) => [special[0], `${k}=${v}`])
  }
  if (Array.isArray(value)) return value.map((v) => [field, String(v)])
  return [[field, String(value)]]
}
