// The logs tab: the container's last lines, then new ones as they come (logs with follow=1),
// until the tab is left or the page closes.
import { attempt, fill, h } from '../dom.js'
import { stream } from './sse.js'

/** Most lines kept on the page; older ones scroll away. */
const MAX_LINES = 5000

/** Builds the log view into `el`; returns a function that stops following. */
export const mountLogs = (el, id) => {
  const pre = h('pre', { class: 'logs' })
  const state = h('span', { class: 'muted' })
  const stick = h('input', { type: 'checkbox', checked: true })
  let controller
  const add = (line) => {
    const row = h('span', { class: line.stream }, `${line.text}\n`)
    pre.append(row)
    while (pre.childNodes.length > MAX_LINES) pre.firstChild.remove()
    if (stick.checked) pre.scrollTop = pre.scrollHeight
  }
  const start = () => {
    controller?.abort()
    controller = new AbortController()
    fill(pre)
    fill(state, 'following')
    const path = `/v1/workers/${encodeURIComponent(id)}/logs?follow=1&tail=500`
    void attempt('Logs', async () => {
      try {
        await stream(
          'GET',
          path,
          undefined,
          (event, data) => {
            if (event === 'log') add(data)
          },
          controller.signal,
        )
        fill(state, 'ended')
      } catch (err) {
        if (err.name === 'AbortError') return fill(state, 'stopped')
        fill(state, 'failed')
        throw err
      }
    })
  }
  fill(
    el,
    h(
      'div',
      { class: 'toolbar' },
      state,
      h('span', { class: 'grow' }),
      h('label', {}, stick, ' follow the end'),
      h('button', { type: 'button', class: 'secondary', onclick: start }, 'Reload'),
    ),
    pre,
  )
  start()
  return () => controller?.abort()
}
