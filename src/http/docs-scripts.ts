/**
 * The scripts `/docs` runs, served as files of their own (`/docs/init.js`, `/docs/reference.js`)
 * so the page's Content-Security-Policy can forbid inline scripts.
 */

/**
 * Starts Swagger UI on the service's OpenAPI document. Requests go to this origin only: no
 * validator badge (it would call validator.swagger.io), and "Try it out" on from the start.
 */
export const swaggerInit = `const ui = window.SwaggerUIBundle({
  url: new URL('/openapi.json', location.href).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
})
window.ui = ui
`

/** Where there is no Swagger UI bundle (the serverless entry): a read-only list of operations. */
export const staticReference = `const el = document.getElementById('ops')
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
const pre = (v) => '<pre>' + esc(JSON.stringify(v, null, 2)) + '</pre>'
fetch('/openapi.json').then((r) => r.json()).then((doc) => {
  el.textContent = ''
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const d = document.createElement('details')
      const params = (op.parameters || []).map((p) => '<tr><td><code>' + esc(p.name) + '</code></td><td>' + esc(p.in) +
        '</td><td>' + (p.required ? 'required' : '') + '</td><td>' + esc(p.description || (p.schema && p.schema.type) || '') + '</td></tr>').join('')
      const body = op.requestBody ? Object.entries(op.requestBody.content).map(([t, c]) =>
        '<p>Body (' + esc(t) + ')</p>' + pre(c.schema)).join('') : ''
      const ok = Object.entries(op.responses).filter(([s]) => s < 300).map(([s, r]) =>
        Object.entries(r.content || {}).map(([t, c]) => '<p>' + esc(s) + ' (' + esc(t) + ')</p>' + pre(c.schema)).join('')).join('')
      d.innerHTML = '<summary><span class="m ' + esc(method) + '">' + esc(method.toUpperCase()) + '</span><code class="p">' + esc(path) +
        '</code><span class="s">' + esc(op.summary || '') + ' · <code>' + esc(op.operationId) + '</code></span></summary>' +
        '<div class="body">' + (params ? '<table><tr><th>param</th><th>in</th><th></th><th></th></tr>' + params + '</table>' : '') + body + ok + '</div>'
      el.appendChild(d)
    }
  }
}).catch((e) => { el.textContent = 'Could not load /openapi.json: ' + e })
`
