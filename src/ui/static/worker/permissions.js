// The permissions tab: the worker's pending tool calls, to allow (once or always) or deny. It
// reloads when a permission event arrives for the worker.
import { api } from '../api.js'
import { attempt, fill, h, toast } from '../dom.js'

/** Builds the tab into `el`; returns `reload`, for the page to call on permission events. */
export const mountPermissions = (el, id, onCount) => {
  const base = `/v1/workers/${encodeURIComponent(id)}/permissions`
  const answer = (p, decision, always = false) =>
    attempt('Answering', async () => {
      await api('POST', `${base}/${encodeURIComponent(p.requestId)}`, { decision, always })
      toast(`${decision === 'allow' ? 'Allowed' : 'Denied'} ${p.tool}`)
      await reload()
    })
  const reload = async () => {
    const view = await attempt('Loading permissions', () => api('GET', base))
    if (!view) return
    onCount?.(view.pending.length)
    if (view.mode === 'skip') {
      return fill(el, h('p', { class: 'muted' }, 'This worker does not ask before tool calls.'))
    }
    fill(
      el,
      h('p', { class: 'muted' }, `Approver: ${view.approver ?? 'operator'}.`),
      view.pending.length === 0
        ? h('p', { class: 'muted' }, 'Nothing waits for an answer.')
        : view.pending.map((p) =>
            h(
              'div',
              { class: 'card permission', dataset: { requestId: p.requestId } },
              h('strong', {}, p.tool),
              ' ',
              h('span', {}, p.summary),
              h('pre', {}, JSON.stringify(p.input, null, 2)),
              h(
                'div',
                { class: 'toolbar' },
                h(
                  'span',
                  { class: 'muted' },
                  `denied at ${new Date(p.deadline).toLocaleTimeString()} unless answered`,
                ),
                h('span', { class: 'grow' }),
                h(
                  'button',
                  { type: 'button', class: 'primary', onclick: () => answer(p, 'allow') },
                  'Allow',
                ),
                h(
                  'button',
                  { type: 'button', class: 'secondary', onclick: () => answer(p, 'allow', true) },
                  'Always allow',
                ),
                h(
                  'button',
                  { type: 'button', class: 'danger', onclick: () => answer(p, 'deny') },
                  'Deny',
                ),
              ),
            ),
          ),
      view.granted?.length
        ? h(
            'p',
            { class: 'muted' },
            `Always allowed: ${view.granted.map((g) => g.tool ?? JSON.stringify(g)).join(', ')}`,
          )
        : null,
    )
  }
  void reload()
  return reload
}
