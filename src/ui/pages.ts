/** One page of the dashboard: served at `path`, run by `static/pages/<page>.js`. */
export interface UiPage {
  /** Hono route path, e.g. `/ui/workers/:id`; its params reach the page as `ctx.params`. */
  path: string
  /** Module name under static/pages/: it exports `mount(main, ctx)`. */
  page: string
  title: string
  /** Shown in the navigation bar, under this label. */
  nav?: string
  /**
   * Allows inline `<style>` elements: xterm.js writes its styles that way. Scripts stay
   * `'self'` only on every page.
   */
  inlineStyles?: boolean
}

/**
 * Every page. Adding one: an entry here, and `static/pages/<page>.js` exporting
 * `mount(main, ctx)` (see static/app.js).
 */
export const UI_PAGES: readonly UiPage[] = [
  { path: '/ui', page: 'workers', title: 'Workers', nav: 'Workers' },
  { path: '/ui/create', page: 'create', title: 'Create a worker', nav: 'Create' },
  { path: '/ui/plugins', page: 'plugins', title: 'Plugins', nav: 'Plugins' },
  { path: '/ui/pools', page: 'pools', title: 'Warm pools', nav: 'Pools' },
  { path: '/ui/workers/:id', page: 'worker', title: 'Worker', inlineStyles: true },
]
