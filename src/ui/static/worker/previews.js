// The previews tab: the ports the worker listens on, each a link through the service's proxy
// (`/v1/workers/:id/ports/:port/`), and a signed link to share one. A service without
// previews says so instead.
import { api } from '../api.js'
import { fill, h, toast } from '../dom.js'

/** Builds the tab into `el` for worker `id`; reads the ports each time it is called. */
export const mountPreviews = async (el, id) => {
  const base = `/v1/workers/${encodeURIComponent(id)}`
  const refresh = h(
    'button',
    { type: 'button', class: 'secondary', onclick: () => mountPreviews(el, id) },
    'Refresh',
  )
  let listing
  try {
    listing = await api('GET', `${base}/ports`)
  } catch (err) {
    const message =
      err.code === 'route_not_found' ? 'This service offers no previews.' : `Ports: ${err.message}`
    return fill(el, h('p', { class: 'muted' }, message), refresh)
  }
  const share = async (port) => {
    try {
      const link = await api('POST', `${base}/preview-links`, { port })
      const url = new URL(link.path, location.origin).href
      await navigator.clipboard?.writeText(url).catch(() => undefined)
      toast(`Link (until ${new Date(link.expiresAt).toLocaleString()}): ${url}`)
    } catch (err) {
      toast(`Share: ${err.message}`, 'error')
    }
  }
  fill(
    el,
    h(
      'div',
      { class: 'toolbar' },
      h('span', { class: 'muted' }, 'Ports the worker listens on'),
      h('span', { class: 'grow' }),
      refresh,
    ),
    listing.ports.length === 0
      ? h('p', { class: 'muted' }, 'Nothing listens yet: start a server in the worker.')
      : h(
          'ul',
          { class: 'ports' },
          listing.ports.map((p) =>
            h(
              'li',
              {},
              h('a', { href: p.path, target: '_blank', rel: 'noopener' }, `:${p.port}`),
              ' ',
              h(
                'button',
                { type: 'button', class: 'secondary', onclick: () => share(p.port) },
                'Share link',
              ),
            ),
          ),
        ),
  )
}
