// Warm pools (WARM_POOLS): started containers kept ready per agent and capabilities, and how
// full each is now. Fetched again every few seconds.
import { api } from '../api.js'
import { fill, h } from '../dom.js'

const EVERY_MS = 3000

/** Builds the pools page. */
export const mount = async (main) => {
  const body = h('div', { id: 'pools' })
  fill(main, h('h1', {}, 'Warm pools'), body)
  const load = async () => {
    const { pools } = await api('GET', '/v1/pools')
    if (pools.length === 0) {
      return fill(
        body,
        h(
          'p',
          { class: 'muted' },
          'No warm pools. Set WARM_POOLS (for example ',
          h('code', {}, 'shell=2 claude-code+git=1'),
          ') to keep started containers ready: a create that matches one takes it at once.',
        ),
      )
    }
    fill(
      body,
      h(
        'table',
        { class: 'grid' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Pool', 'Agent', 'Capabilities', 'Ready', 'Fill'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          pools.map((p) =>
            h(
              'tr',
              { dataset: { pool: p.key } },
              h('td', { class: 'mono' }, p.key),
              h('td', {}, p.agent),
              h('td', {}, p.capabilities.join(', ') || '—'),
              h('td', {}, `${p.ready} / ${p.size}`),
              h(
                'td',
                {},
                h(
                  'span',
                  { class: 'meter', title: `${p.ready} of ${p.size}` },
                  h('span', {
                    dataset: { fill: String(p.size ? Math.round((100 * p.ready) / p.size) : 0) },
                  }),
                ),
              ),
            ),
          ),
        ),
      ),
    )
    // Widths set through the CSSOM: the CSP allows no inline style attributes.
    for (const bar of body.querySelectorAll('[data-fill]')) bar.style.width = `${bar.dataset.fill}%`
  }
  await load()
  setInterval(
    () => document.visibilityState === 'visible' && load().catch(() => undefined),
    EVERY_MS,
  )
}
