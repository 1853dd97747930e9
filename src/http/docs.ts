/**
 * A self-contained page that renders /openapi.json: no CDN, so it works on air-gapped hosts.
 */
export const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>workers-spawner API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem 2rem; color: #1d1f21 }
  h1 { margin-bottom: 0 } .sub { color: #666; margin-top: .2rem }
  details { border: 1px solid #ddd; border-radius: 6px; margin: .5rem 0 }
  summary { cursor: pointer; padding: .5rem .8rem; display: flex; gap: .8rem; align-items: baseline }
  .m { font: bold 12px monospace; padding: 2px 6px; border-radius: 3px; color: #fff; min-width: 52px; text-align: center }
  .get { background: #2f7bd8 } .post { background: #2e9d4a } .put { background: #c08000 }
  .patch { background: #8a52c9 } .delete { background: #c9372c }
  code.p { font-weight: 600 } .s { color: #555 } .body { padding: 0 1rem 1rem }
  pre { background: #f6f8fa; padding: .6rem; overflow: auto; border-radius: 4px; font-size: 13px }
  table { border-collapse: collapse } td, th { border-bottom: 1px solid #eee; padding: 2px 10px 2px 0; text-align: left }
</style>
</head>
<body>
<h1>workers-spawner API</h1>
<p class="sub">Rendered from <a href="/openapi.json">/openapi.json</a>. Errors are <code>{ "error": { "code", "message", "details"? } }</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const el = document.getElementById('ops'); el.textContent = ''
  const esc = s => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const d = document.createElement('details')
      const params = (op.parameters || []).map(p => '<tr><td><code>' + esc(p.name) + '</code></td><td>' + esc(p.in) +
        '</td><td>' + (p.required ? 'required' : '') + '</td><td>' + esc(p.description || (p.schema && p.schema.type) || '') + '</td></tr>').join('')
      const body = op.requestBody ? Object.entries(op.requestBody.content).map(([t, c]) =>
        '<p>Body (' + esc(t) + ')</p><pre>' + esc(JSON.stringify(c.schema, null, 2)) + '</pre>').join('') : ''
      const ok = Object.entries(op.responses).filter(([s]) => s < 300).map(([s, r]) => Object.entries(r.content || {}).map(([t, c]) =>
        '<p>' + esc(s) + ' (' + esc(t) + ')</p><pre>' + esc(JSON.stringify(c.schema, null, 2)) + '</pre>').join('')).join('')
      d.innerHTML = '<summary><span class="m ' + method + '">' + method.toUpperCase() + '</span><code class="p">' + esc(path) +
        '</code><span class="s">' + esc(op.summary || '') + ' · <code>' + esc(op.operationId) + '</code></span></summary>' +
        '<div class="body">' + (params ? '<table><tr><th>param</th><th>in</th><th></th><th></th></tr>' + params + '</table>' : '') + body + ok + '</div>'
      el.appendChild(d)
    }
  }
}).catch(e => { document.getElementById('ops').textContent = 'Could not load /openapi.json: ' + e })
</script>
</body>
</html>
`
