/**
 * The in-container half of the gateway bench, run by `node` inside a worker in one `docker exec`
 * (so exec's own cost is not in the figures). Reads a plan from BENCH_PLAN, times each model
 * call with `performance.now()` and prints one JSON line: `{ calls: { name: [ms] }, streams:
 * { name: [{ ms, bytes }] } }`. Plain JavaScript: the worker's node runs it as it is.
 *
 * A target's `base` is a URL, `'gateway'` for the worker's BENCH_MODEL_BASE_URL (the URL the
 * service gave it) or `'gateway-origin'` for its origin (the worker API without the gateway);
 * `key: 'gateway'` sends the worker's own credential (BENCH_MODEL_KEY).
 */
import http from 'node:http'

const plan = JSON.parse(process.env.BENCH_PLAN ?? '{}')
const gatewayUrl = process.env.BENCH_MODEL_BASE_URL ?? ''

const bases = { gateway: gatewayUrl, 'gateway-origin': gatewayUrl && new URL(gatewayUrl).origin }
const urlOf = (t) => (bases[t.base] ?? t.base) + (t.path ?? '')
const keyOf = (t) => (t.key === 'gateway' ? process.env.BENCH_MODEL_KEY : t.key)

// One keep-alive connection per target, as an SDK client holds one; `fresh` opens one per call.
const agents = new Map()
const agentOf = (t) => {
  if (t.fresh) return false
  if (!agents.has(t.name)) agents.set(t.name, new http.Agent({ keepAlive: true, maxSockets: 1 }))
  return agents.get(t.name)
}

/** One request, read to its end: its time in ms and the bytes received. */
const once = (t, body) =>
  new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers = { 'anthropic-version': '2023-06-01', ...t.headers }
    const key = keyOf(t)
    if (key) headers['x-api-key'] = key
    if (payload) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(payload.length)
    }
    const started = performance.now()
    const req = http.request(
      urlOf(t),
      { method: payload ? 'POST' : 'GET', agent: agentOf(t), headers },
      (res) => {
        let bytes = 0
        res.on('data', (chunk) => (bytes += chunk.length))
        res.on('error', reject)
        res.on('end', () => {
          const ms = performance.now() - started
          if (res.statusCode !== 200) reject(new Error(`${t.name}: HTTP ${res.statusCode}`))
          else resolve({ ms, bytes })
        })
      },
    )
    req.on('error', (err) => reject(new Error(`${t.name}: ${err.message}`)))
    req.end(payload)
  })

const message = (stream) => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  stream,
  messages: [{ role: 'user', content: 'What is 5 + 7?' }],
})

// The in-container forwarder starts with the container: wait until the first target answers.
const ready = async (t) => {
  const until = Date.now() + 30_000
  for (;;) {
    try {
      return await once(t, t.path === '/healthz' ? undefined : message(false))
    } catch (err) {
      if (Date.now() > until) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/** Each round times every target once, in turn, so load on the machine falls on all alike. */
const rounds = async (spec, stream) => {
  const out = Object.fromEntries(spec.targets.map((t) => [t.name, []]))
  for (let i = 0; i < spec.warm + spec.rounds; i++) {
    for (const t of spec.targets) {
      const r = await once(t, t.path === '/healthz' ? undefined : message(stream || !!t.stream))
      if (i >= spec.warm) out[t.name].push(stream ? r : r.ms)
    }
  }
  return out
}

for (const t of plan.calls.targets) await ready(t)
const calls = await rounds(plan.calls, false)
const streams = plan.streams ? await rounds(plan.streams, true) : {}
process.stdout.write(JSON.stringify({ calls, streams }) + '\n')
for (const a of agents.values()) a.destroy()
