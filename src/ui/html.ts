import type { UiPage } from './pages.ts'
import { UI_PAGES } from './pages.ts'

/** Text safe inside HTML elements and double-quoted attributes. */
export const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/**
 * The Content-Security-Policy of every page: scripts and styles from /ui/assets only, calls
 * to this origin only, no other site may frame the pages.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** CSP, with inline `<style>` elements allowed on pages that need them (xterm.js). */
export const cspOf = (opts: { inlineStyles?: boolean } = {}): string =>
  opts.inlineStyles ? CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") : CSP

const head = (title: string, version: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · workers-spawner</title>
<link rel="icon" href="/ui/assets/${version}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/${version}/style.css">`

/** The shell of a page: navigation, an empty `<main>` its module fills. */
export const pageHtml = (
  page: UiPage,
  opts: { version: string; params: Record<string, string>; login: boolean },
): string => {
  const links = UI_PAGES.filter((p) => p.nav)
    .map(
      (p) =>
        `<a href="${p.path}"${p.page === page.page ? ' aria-current="page"' : ''}>${esc(p.nav!)}</a>`,
    )
    .join('')
  const logout = opts.login
    ? '<form method="post" action="/ui/logout" class="logout"><button type="submit">Log out</button></form>'
    : ''
  return `${head(page.title, opts.version)}
<script type="module" src="/ui/assets/${opts.version}/app.js"></script>
</head>
<body data-page="${esc(page.page)}" data-assets="/ui/assets/${opts.version}/" data-params="${esc(JSON.stringify(opts.params))}">
<header class="top"><a class="brand" href="/ui">workers-spawner</a><nav>${links}<a href="/docs">API</a></nav>${logout}</header>
<main id="main" aria-live="polite"></main>
<div id="toasts" role="status"></div>
</body>
</html>
`
}

/** The login form: the operator pastes SPAWNER_API_TOKEN; no script needed. */
export const loginHtml = (opts: { version: string; next: string; failed: boolean }): string =>
  `${head('Log in', opts.version)}
</head>
<body class="login">
<main>
<h1>workers-spawner</h1>
<form method="post" action="/ui/login" class="card">
<label for="token">API token (<code>SPAWNER_API_TOKEN</code>)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${esc(opts.next)}">
${opts.failed ? '<p class="error" role="alert">That token is not this service’s.</p>' : ''}
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`
