// Plugins: what is loaded (name, kind, version, where from), what failed to load and why,
// and which workers use each one. Fetched again every few seconds: plugins hot-reload.
import { api } from '../api.js'
import { fill, h } from '../dom.js'

const EVERY_MS = 5000

/** Builds the plugins page. */
export const mount = async (main) => {
  const table = h('tbody')
  const errors = h('div', { id: 'plugin-errors' })
  const loaded = h('span', { class: 'muted' })
  fill(
    main,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Plugins'), h('span', { class: 'grow' }), loaded),
    h(
      'table',
      { class: 'grid', id: 'plugins' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Plugin', 'Kind', 'Version', 'Description', 'Source', 'Secrets', 'Used by'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      table,
    ),
    h('h2', {}, 'Load errors'),
    errors,
  )

  const render = (plugins, workers) => {
    loaded.textContent = `loaded ${new Date(plugins.loadedAt).toLocaleString()}`
    const users = new Map()
    for (const w of workers) {
      for (const name of [w.agent, ...w.capabilities]) {
        if (!users.has(name)) users.set(name, [])
        users.get(name).push(w)
      }
    }
    fill(
      table,
      plugins.plugins.map((p) => {
        const using = users.get(p.name) ?? []
        return h(
          'tr',
          { dataset: { plugin: p.name } },
          h('td', {}, h('strong', {}, p.name)),
          h('td', {}, p.kind),
          h('td', { class: 'mono' }, p.version),
          h('td', { class: 'wrap' }, p.description),
          h(
            'td',
            { class: 'mono' },
            p.package ? `${p.package.name}@${p.package.version}` : 'folder',
          ),
          h(
            'td',
            { class: 'mono' },
            p.secrets.map((s) => `${s.name}${s.required ? '' : '?'}`).join(' ') || '—',
          ),
          h(
            'td',
            {},
            using.length === 0
              ? h('span', { class: 'muted' }, 'none')
              : h(
                  'details',
                  {},
                  h('summary', {}, `${using.length} worker${using.length > 1 ? 's' : ''}`),
                  using.map((w) =>
                    h(
                      'div',
                      {},
                      h('a', { class: 'mono', href: `/ui/workers/${w.workerId}` }, w.workerId),
                      ` ${w.state}`,
                    ),
                  ),
                ),
          ),
        )
      }),
    )
    fill(
      errors,
      plugins.errors.length === 0
        ? h('p', { class: 'muted' }, 'Every plugin loaded.')
        : h(
            'table',
            { class: 'grid' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Plugin', 'Field', 'Reason'].map((t) => h('th', {}, t)),
              ),
            ),
            h(
              'tbody',
              {},
              plugins.errors.map((e) =>
                h(
                  'tr',
                  {},
                  h(
                    'td',
                    {},
                    e.plugin + (e.package ? ` (${e.package.name}@${e.package.version})` : ''),
                  ),
                  h('td', { class: 'mono' }, e.field),
                  h('td', { class: 'error wrap' }, e.reason),
                ),
              ),
            ),
          ),
    )
  }

  const load = async () => {
    const [plugins, list] = await Promise.all([
      api('GET', '/v1/plugins'),
      api('GET', '/v1/workers'),
    ])
    render(plugins, list.workers)
  }
  await load()
  setInterval(
    () => document.visibilityState === 'visible' && load().catch(() => undefined),
    EVERY_MS,
  )
}
