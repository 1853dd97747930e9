/** One file the dashboard serves. */
export interface UiAsset {
  body: Uint8Array
  /** Its Content-Type. */
  type: string
}

/**
 * The dashboard's static files by path (`app.js`, `pages/workers.js`, `vendor/xterm/xterm.mjs`),
 * and a version: a hash over all of them, which is part of every asset URL, so each can be
 * cached for good and a new build is never mixed with an old one.
 */
export interface UiAssets {
  version: string
  files: ReadonlyMap<string, UiAsset>
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  json: 'application/json',
  map: 'application/json',
}

/** The Content-Type of a file by its extension (binary when unknown). */
export const contentTypeOf = (path: string): string =>
  TYPES[path.slice(path.lastIndexOf('.') + 1)] ?? 'application/octet-stream'
