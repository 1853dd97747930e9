// The checkpoints tab: the worker's saved states; take one now, put the worker back to one,
// fork new workers from one, delete one.
import { api } from '../api.js'
import { attempt, confirmDialog, count, fill, h, toast } from '../dom.js'

/** Builds the tab into `el` for worker `id`. */
export const mountCheckpoints = (el, id) => {
  const base = `/v1/workers/${encodeURIComponent(id)}`
  const table = h('table', { class: 'grid' })
  const reload = async () => {
    const list = await attempt('Loading checkpoints', () => api('GET', `${base}/checkpoints`))
    if (!list) return
    fill(
      table,
      h(
        'tr',
        {},
        ['Checkpoint', 'Taken', 'Turns', 'Size', ''].map((t) => h('th', {}, t)),
      ),
      list.checkpoints.length === 0
        ? h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No checkpoints yet.'))
        : list.checkpoints.map((c) => row(c)),
    )
  }
  const act = (what, fn) => attempt(what, async () => (await fn(), await reload()))
  const row = (c) =>
    h(
      'tr',
      { dataset: { checkpointId: c.checkpointId } },
      h(
        'td',
        { class: 'mono' },
        c.checkpointId,
        c.auto ? h('span', { class: 'badge' }, 'auto') : null,
      ),
      h('td', {}, new Date(c.createdAt).toLocaleString()),
      h('td', {}, String(c.turns)),
      h('td', {}, `${count(c.sizeBytes)}B`),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: async () => {
              if (
                !(await confirmDialog(
                  `Put ${id} back to ${c.checkpointId}? Its files after it are lost.`,
                  'Restore',
                ))
              )
                return
              await act('Restoring', () =>
                api('POST', `${base}/checkpoints/${c.checkpointId}/restore`),
              )
              toast(`Restored ${c.checkpointId}`)
            },
          },
          'Restore',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => fork(c.checkpointId),
          },
          'Fork',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: async () => {
              if (!(await confirmDialog(`Delete checkpoint ${c.checkpointId}?`, 'Delete'))) return
              await act('Deleting', () => api('DELETE', `${base}/checkpoints/${c.checkpointId}`))
            },
          },
          'Delete',
        ),
      ),
    )
  const forks = h('ul', { class: 'forks' })
  const fork = (checkpoint) =>
    act('Forking', async () => {
      const out = await api('POST', `${base}/fork`, checkpoint ? { checkpoint } : {})
      for (const w of out.workers)
        forks.append(
          h(
            'li',
            {},
            'Forked: ',
            h('a', { href: `/ui/workers/${encodeURIComponent(w.workerId)}` }, w.workerId),
          ),
        )
    })
  fill(
    el,
    h(
      'div',
      { class: 'toolbar' },
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: () => act('Taking a checkpoint', () => api('POST', `${base}/checkpoints`)),
        },
        'Take checkpoint',
      ),
      h('button', { type: 'button', class: 'secondary', onclick: () => fork() }, 'Fork now'),
    ),
    table,
    forks,
  )
  void reload()
}
