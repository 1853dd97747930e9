// The events tab: this worker's events as the service sends them (/v1/events?worker=ID),
// newest first, with a filter by type. The chat and the permissions tab listen here too.
import { EVENT_TYPES, follow } from '../api.js'
import { fill, h } from '../dom.js'

/** Most events kept on the page. */
const MAX_EVENTS = 1000

/** What an event says, in one line. */
const summary = (e) => {
  switch (e.type) {
    case 'status':
      return `${e.state ?? ''}${e.reason ? ` (${e.reason})` : ''}`
    case 'output':
      return `${e.stream}: ${String(e.data ?? '').slice(0, 200)}`
    case 'agent':
      return `${e.update?.sessionUpdate ?? ''} ${e.update?.content?.text ?? e.update?.title ?? ''}`
    case 'command_exit':
      return `exit ${e.exitCode} in ${e.durationMs} ms`
    case 'response':
      return String(e.text ?? e.reply?.text ?? '').slice(0, 200)
    case 'permission_request':
      return `${e.tool ?? ''}: ${e.summary ?? ''}`
    default:
      return ''
  }
}

/**
 * Follows the worker's events: each goes to every listener in `listeners`, and, once
 * `mountEvents` has given it a place, into the list. Returns the view's handle.
 */
export const workerEvents = (id) => {
  const listeners = new Set()
  const list = h('ol', { class: 'events', reversed: true })
  const filter = h(
    'select',
    { name: 'type', 'aria-label': 'event type' },
    h('option', { value: '' }, 'all types'),
    EVENT_TYPES.map((t) => h('option', { value: t }, t)),
  )
  const shown = (li) => !filter.value || li.dataset.type === filter.value
  filter.addEventListener('change', () => {
    for (const li of list.children) li.hidden = !shown(li)
  })
  const stop = follow(
    { worker: id },
    (e) => {
      const li = h(
        'li',
        { dataset: { type: e.type } },
        h('time', { class: 'muted' }, new Date(e.at).toLocaleTimeString()),
        ' ',
        h('span', { class: 'badge' }, e.type),
        ' ',
        h('span', { class: 'mono' }, summary(e)),
        h('details', {}, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(e, null, 2))),
      )
      li.hidden = !shown(li)
      list.prepend(li)
      while (list.children.length > MAX_EVENTS) list.lastElementChild.remove()
      for (const fn of listeners) fn(e)
    },
    { onGap: () => list.prepend(h('li', { class: 'muted' }, 'some events were missed')) },
  )
  return {
    listeners,
    stop,
    mount: (el) => fill(el, h('div', { class: 'toolbar' }, filter), list),
  }
}
