import type { Hono } from 'hono'
import type { AppEnv } from './auth.ts'
import { staticReference, swaggerInit } from './docs-scripts.ts'

/** The files of Swagger UI's standalone bundle the page loads (swagger-ui-dist). */
export const SWAGGER_FILES = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
} as const
export type SwaggerFile = keyof typeof SWAGGER_FILES

/** Reads one of Swagger UI's files (the Node entry reads node_modules/swagger-ui-dist). */
export type DocsAssets = (file: SwaggerFile) => Promise<Uint8Array<ArrayBuffer>>

/**
 * Scripts only from this origin and never inline; Swagger UI sets style attributes, so inline
 * styles stay allowed. Requests ("Try it out") go to this origin only, and no site may frame it.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const swaggerPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>workers-spawner API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js" defer></script>
<script src="/docs/init.js" type="module"></script>
</body>
</html>
`

const staticPage = `<!doctype html>
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
<script src="/docs/reference.js" type="module"></script>
</body>
</html>
`

const script = (body: string) => ({
  body,
  headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
})

/**
 * `/docs`: Swagger UI on `/openapi.json` ("Try it out", "Authorize" with the API token), from
 * files this service serves, so it works on air-gapped hosts. Without `assets` (where there is no
 * node_modules), a read-only list of the operations instead.
 */
export const registerDocs = (app: Hono<AppEnv>, assets?: DocsAssets): void => {
  const page = assets ? swaggerPage : staticPage
  app.get('/docs', (c) => c.html(page, 200, { 'content-security-policy': DOCS_CSP }))
  const init = script(assets ? swaggerInit : staticReference)
  app.get(assets ? '/docs/init.js' : '/docs/reference.js', (c) =>
    c.body(init.body, 200, init.headers),
  )
  if (!assets) return
  for (const [file, type] of Object.entries(SWAGGER_FILES)) {
    app.get(`/docs/${file}`, async (c) =>
      c.body(await assets(file as SwaggerFile), 200, {
        'content-type': type,
        'cache-control': 'public, max-age=3600',
        'x-content-type-options': 'nosniff',
      }),
    )
  }
}
