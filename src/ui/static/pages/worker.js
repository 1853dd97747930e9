// The worker page (/ui/workers/:id): its status for now; chat, terminal, files, logs and
// events build on it.
import { api } from '../api.js'
import { fill, h } from '../dom.js'

/** Builds the page for worker `ctx.params.id`. */
export const mount = async (main, ctx) => {
  const id = ctx.params.id
  fill(main, h('h1', {}, id))
  const status = await api('GET', `/v1/workers/${encodeURIComponent(id)}`)
  main.append(h('pre', { class: 'json' }, JSON.stringify(status, null, 2)))
}
