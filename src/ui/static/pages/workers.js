// The home page: every worker, live. The list comes once from GET /v1/workers; events from
// /v1/events then keep each row current (a worker's status is fetched again, at most once a
// second, when an event says it changed in ways the event does not carry).
import { api, follow } from '../api.js'
import { attempt, confirmDialog, count, duration, fill, h, toast, usd } from '../dom.js'

const STATES = ['creating', 'running', 'paused', 'exited', 'failed']
const REFRESH_MS = 1000
const REFRESH_ON = new Set(['status', 'response', 'permission_request', 'permission_resolved'])

/** `team=a, env=dev` → [['team','a'], ['env','dev']]; a bare word matches a label key. */
const parseLabels = (text) =>
  text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=')
      return at < 0 ? [pair, undefined] : [pair.slice(0, at), pair.slice(at + 1)]
    })

/** Tokens and cost: what the model gateway measured, else what the agent's CLI reported. */
const spendOf = (w) => {
  const s = w.spend
  if (s && s.requests > 0) return { tokens: s.inputTokens + s.outputTokens, cost: s.costUsd }
  return { tokens: w.usage.inputTokens + w.usage.outputTokens, cost: w.usage.costUsd }
}

/** The workers to show, depth first: roots newest first, each one's sub-workers under it. */
const treeOrder = (workers, collapsed) => {
  const byParent = new Map()
  for (const w of workers.values()) {
    const parent = w.parentId && workers.has(w.parentId) ? w.parentId : ''
    if (!byParent.has(parent)) byParent.set(parent, [])
    byParent.get(parent).push(w)
  }
  const out = []
  const walk = (parent, depth, prefix) => {
    const kids = byParent.get(parent) ?? []
    kids.sort((a, b) => {
      const older = a.createdAt.localeCompare(b.createdAt) || a.workerId.localeCompare(b.workerId)
      return depth === 0 ? -older : older
    })
    kids.forEach((w, i) => {
      const last = i === kids.length - 1
      const hasKids = byParent.has(w.workerId)
      out.push({ w, depth, guide: depth === 0 ? '' : `${prefix}${last ? '└─ ' : '├─ '}`, hasKids })
      if (hasKids && !collapsed.has(w.workerId))
        walk(w.workerId, depth + 1, depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`)
    })
  }
  walk('', 0, '')
  return out
}

/**
 * A row for a worker still being created: its status answers 404 until the create is done,
 * so it is asked for once a later status event says the worker is up (or failed).
 */
const placeholder = (e) => ({
  workerId: e.workerId,
  state: 'creating',
  placeholder: true,
  agent: '…',
  capabilities: [],
  labels: {},
  createdAt: e.at,
  expiresAt: e.at,
  idleDeadline: null,
  ttlSeconds: 0,
  commandRunning: false,
  agentState: 'idle',
  usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
})

/** Builds the workers page. */
export const mount = async (main) => {
  const workers = new Map()
  const rows = new Map()
  const collapsed = new Set()
  const query = new URLSearchParams(location.search)
  const filters = { state: query.get('state') ?? '', labels: query.get('label') ?? '' }

  const stateSelect = h(
    'select',
    { id: 'filter-state', 'aria-label': 'State' },
    h('option', { value: '' }, 'All states'),
    STATES.map((s) => h('option', { value: s }, s)),
  )
  stateSelect.value = filters.state
  const labelInput = h('input', {
    id: 'filter-label',
    type: 'search',
    placeholder: 'Labels: team=a env',
    value: filters.labels,
    'aria-label': 'Labels',
  })
  const summary = h('span', { class: 'muted', id: 'summary' })
  const live = h('span', { class: 'muted', id: 'live' }, 'connecting…')
  const tbody = h('tbody')
  const empty = h('p', { class: 'muted', hidden: true }, 'No workers.')
  fill(
    main,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Workers'),
      h('span', { class: 'grow' }),
      summary,
      live,
      h('a', { class: 'button primary', href: '/ui/create' }, 'Create worker'),
    ),
    h('div', { class: 'toolbar' }, stateSelect, labelInput),
    h(
      'table',
      { class: 'grid', id: 'workers' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'Worker',
            'State',
            'Agent',
            'Age',
            'TTL left',
            'Idle left',
            'Command',
            'Tokens',
            'Cost',
          ].map((t) => h('th', {}, t)),
          h('th', {}, ''),
        ),
      ),
      tbody,
    ),
    empty,
  )

  const matches = (w) => {
    if (filters.state && w.state !== filters.state) return false
    for (const [key, value] of parseLabels(filters.labels)) {
      if (!(key in w.labels)) return false
      if (value !== undefined && w.labels[key] !== value) return false
    }
    return true
  }

  const act = (w, what, fn) => attempt(`${what} ${w.workerId}`, fn)
  const actions = {
    pause: (w) => act(w, 'pause', () => api('POST', `/v1/workers/${w.workerId}/pause`)),
    resume: (w) => act(w, 'resume', () => api('POST', `/v1/workers/${w.workerId}/resume`)),
    extend: async (w) => {
      const ttlSeconds = Math.min(w.ttlSeconds + 3600, 30 * 86400)
      const out = await act(w, 'extend', () =>
        api('PATCH', `/v1/workers/${w.workerId}`, { ttlSeconds }),
      )
      if (out) refresh(w.workerId, 0)
    },
    delete: async (w) => {
      const kids = [...workers.values()].filter((x) => x.parentId === w.workerId).length
      const sure = await confirmDialog(
        `Delete ${w.workerId}${kids ? ` and its ${kids} sub-worker(s)` : ''}? Its container and files go.`,
        'Delete',
      )
      if (!sure) return
      forget(w.workerId)
      const out = await act(w, 'delete', () => api('DELETE', `/v1/workers/${w.workerId}`))
      if (out) toast(`Deleted ${w.workerId}`)
    },
  }

  /** The row of a worker, built once; `update` refreshes its cells from the worker. */
  const rowOf = (id) => {
    let row = rows.get(id)
    if (row) return row
    const cell = () => h('td')
    const cells = {
      name: cell(),
      state: cell(),
      agent: cell(),
      age: cell(),
      ttl: cell(),
      idle: cell(),
      command: cell(),
      tokens: cell(),
      cost: cell(),
    }
    const guide = h('span', { class: 'tree' })
    const toggle = h('button', {
      class: 'toggle',
      hidden: true,
      onclick: () => {
        collapsed.has(id) ? collapsed.delete(id) : collapsed.add(id)
        schedule()
      },
    })
    const link = h('a', { href: `/ui/workers/${id}`, class: 'mono' }, id)
    const labels = h('span')
    cells.name.append(guide, toggle, link, ' ', labels)
    const button = (name, label, cls) =>
      h(
        'button',
        { class: cls, dataset: { action: name }, onclick: () => actions[name](workers.get(id)) },
        label,
      )
    const buttons = {
      pause: button('pause', 'Pause'),
      resume: button('resume', 'Resume'),
      extend: button('extend', '+1h', ''),
      delete: button('delete', 'Delete', 'danger'),
    }
    buttons.extend.title = 'Extend the TTL by an hour'
    const el = h(
      'tr',
      { dataset: { workerId: id } },
      Object.values(cells),
      h('td', { class: 'actions' }, Object.values(buttons)),
    )
    row = { el, cells, guide, toggle, labels, buttons, shown: {} }
    rows.set(id, row)
    return row
  }

  /** Sets a cell's text only when it changed: with hundreds of rows, most stay as they are. */
  const set = (row, key, text, cls) => {
    if (row.shown[key] === text && row.shown[`${key}.cls`] === cls) return
    row.shown[key] = text
    row.shown[`${key}.cls`] = cls
    row.cells[key].textContent = text
    if (cls !== undefined) row.cells[key].className = cls
  }

  const updateRow = (row, w, now, entry) => {
    row.el.dataset.state = w.state
    row.guide.textContent = entry.guide
    row.toggle.hidden = !entry.hasKids
    row.toggle.textContent = collapsed.has(w.workerId) ? '▸' : '▾'
    const labelText = Object.entries(w.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
    if (row.shown.labels !== labelText) {
      row.shown.labels = labelText
      fill(
        row.labels,
        Object.entries(w.labels).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`)),
      )
    }
    const asking = w.permissions?.pending?.length ?? 0
    set(row, 'state', w.state + (asking ? ` · ${asking} asking` : ''), `state-${w.state}`)
    set(row, 'agent', [w.agent, ...w.capabilities].join(' + '))
    set(row, 'age', duration(now - Date.parse(w.createdAt)))
    set(row, 'ttl', w.placeholder ? '—' : duration(Date.parse(w.expiresAt) - now))
    set(row, 'idle', w.idleDeadline ? duration(Date.parse(w.idleDeadline) - now) : '—')
    const busy = w.commandRunning || w.agentState === 'running'
    set(
      row,
      'command',
      w.agentState === 'running' ? 'prompt' : w.commandRunning ? 'command' : 'idle',
      busy ? 'busy' : '',
    )
    const { tokens, cost } = spendOf(w)
    set(row, 'tokens', count(tokens))
    set(row, 'cost', usd(cost))
    const { buttons } = row
    buttons.pause.hidden = w.state !== 'running'
    buttons.resume.hidden = w.state !== 'paused'
    buttons.extend.disabled = w.state === 'exited' || w.state === 'failed'
  }

  let frame = 0
  let marked = false
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render)
  }
  const render = () => {
    frame = 0
    const now = Date.now()
    const visible = new Map([...workers].filter(([, w]) => matches(w)))
    const order = treeOrder(visible, collapsed)
    let at = tbody.firstChild
    for (const entry of order) {
      const row = rowOf(entry.w.workerId)
      updateRow(row, entry.w, now, entry)
      if (row.el !== at) tbody.insertBefore(row.el, at)
      else at = at.nextSibling
    }
    while (at) {
      const next = at.nextSibling
      at.remove()
      at = next
    }
    for (const id of rows.keys()) if (!workers.has(id)) rows.delete(id)
    // Counted over what the filters show: the header describes the table under it.
    const shown = [...visible.values()]
    const states = STATES.map((s) => [s, shown.filter((w) => w.state === s).length])
    const of = shown.length === workers.size ? '' : ` of ${workers.size}`
    summary.textContent = [
      `${shown.length}${of} workers`,
      ...states.filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`),
    ].join(' · ')
    empty.hidden = order.length > 0
    main.dataset.rendered = String(order.length)
    main.dataset.events = String(seen)
    if (!marked && order.length > 0) {
      marked = true
      performance.mark('workers:rendered')
    }
  }

  const onFilter = () => {
    filters.state = stateSelect.value
    filters.labels = labelInput.value
    const q = new URLSearchParams()
    if (filters.state) q.set('state', filters.state)
    if (filters.labels) q.set('label', filters.labels)
    history.replaceState(null, '', q.size ? `?${q}` : location.pathname)
    schedule()
  }
  stateSelect.addEventListener('change', onFilter)
  labelInput.addEventListener('input', onFilter)

  // A worker's status again, at most once per REFRESH_MS however many events arrive.
  const pending = new Map()
  let seen = 0
  // Deleted workers: their late events ask for nothing (the answer would be a 404).
  const gone = new Set()
  const forget = (id) => {
    gone.add(id)
    clearTimeout(pending.get(id))
    pending.delete(id)
  }
  const refresh = (id, after = REFRESH_MS) => {
    if (pending.has(id) || gone.has(id)) return
    pending.set(
      id,
      setTimeout(async () => {
        pending.delete(id)
        try {
          workers.set(id, await api('GET', `/v1/workers/${id}`))
        } catch (err) {
          // Anything else passes: the next event or reconnect brings it again.
          if (err.status === 404) workers.delete(id)
        }
        schedule()
      }, after),
    )
  }

  const reload = async () => {
    const { workers: list } = await api('GET', '/v1/workers')
    workers.clear()
    for (const w of list) workers.set(w.workerId, w)
    schedule()
  }

  const onEvent = (e) => {
    const w = workers.get(e.workerId)
    if (e.type === 'status' && e.state === 'deleted') {
      forget(e.workerId)
      workers.delete(e.workerId)
      return schedule()
    }
    if (!w && e.type === 'status' && e.state === 'creating') {
      workers.set(e.workerId, placeholder(e))
      return schedule()
    }
    if (!w) return refresh(e.workerId, 0)
    if (w.placeholder && e.type !== 'status') return
    seen++
    if (e.type === 'status') w.state = e.state
    else if (e.type === 'usage') w.spend = e.spend
    else if (e.type === 'output') w.commandRunning = true
    else if (e.type === 'command_exit') w.commandRunning = false
    else if (e.type === 'agent') w.agentState = 'running'
    else if (e.type === 'response') w.agentState = 'idle'
    // Activity moves the idle deadline; the event says when, the worker how long it waits.
    w.lastActiveAt = e.at
    if (w.idleSeconds > 0 && w.state === 'running')
      w.idleDeadline = new Date(Date.parse(e.at) + w.idleSeconds * 1000).toISOString()
    // Only what events do not carry is asked for again: a state's deadlines, a prompt's usage,
    // the permission requests waiting. Output streams ask for nothing.
    if (REFRESH_ON.has(e.type)) refresh(e.workerId)
    schedule()
  }

  await reload()
  follow({}, onEvent, {
    types: [
      'status',
      'output',
      'response',
      'command_exit',
      'agent',
      'usage',
      'permission_request',
      'permission_resolved',
    ],
    onGap: () => void reload(),
    onOpen: (reopened) => {
      live.textContent = '● live'
      main.dataset.live = 'open'
      if (reopened) void reload()
    },
    onDown: () => {
      live.textContent = 'reconnecting…'
      main.dataset.live = 'down'
    },
  })
  // Ages and deadlines move on their own.
  setInterval(schedule, 1000)
}
