// The worker page (/ui/workers/:id): its status up top, kept current by its events, and tabs
// for chat, files, logs, events, permissions, checkpoints, terminal and previews. Each tab is
// built the first time it is opened; the one open is kept in the URL's #fragment.
import { api } from '../api.js'
import { count, duration, fill, h, usd } from '../dom.js'
import { mountChat } from '../worker/chat.js'
import { mountCheckpoints } from '../worker/checkpoints.js'
import { workerEvents } from '../worker/events.js'
import { mountFiles } from '../worker/files.js'
import { mountLogs } from '../worker/logs.js'
import { mountPermissions } from '../worker/permissions.js'
import { mountPreviews } from '../worker/previews.js'
import { mountTerminal } from '../worker/terminal.js'

const TABS = [
  ['chat', 'Chat'],
  ['files', 'Files'],
  ['logs', 'Logs'],
  ['events', 'Events'],
  ['permissions', 'Permissions'],
  ['checkpoints', 'Checkpoints'],
  ['terminal', 'Terminal'],
  ['previews', 'Previews'],
]

/** The status card: state, agent, plugins, deadlines, usage. */
const statusCard = (s) =>
  h(
    'dl',
    { class: 'card status-card' },
    [
      [
        'State',
        h('span', { class: `badge state-${s.state}` }, s.state),
        s.commandRunning ? h('span', { class: 'busy' }, ' running') : null,
      ],
      ['Agent', s.agent],
      ['Capabilities', s.capabilities.join(', ') || '—'],
      ['Workdir', h('code', {}, s.workdir)],
      ['Expires', `in ${duration(Date.parse(s.expiresAt) - Date.now())}`],
      [
        'Idle pause',
        s.idleDeadline ? `in ${duration(Date.parse(s.idleDeadline) - Date.now())}` : 'never',
      ],
      [
        'Prompts',
        `${s.usage.prompts} · ${count(s.usage.inputTokens)} in · ${count(s.usage.outputTokens)} out · ${usd(s.usage.costUsd)}`,
      ],
      s.parentId
        ? ['Parent', h('a', { href: `/ui/workers/${encodeURIComponent(s.parentId)}` }, s.parentId)]
        : null,
    ]
      .filter(Boolean)
      .map(([k, ...v]) => h('div', {}, h('dt', {}, k), h('dd', {}, ...v))),
  )

/** Builds the page for worker `ctx.params.id`. */
export const mount = async (main, ctx) => {
  const id = ctx.params.id
  document.head.append(h('link', { rel: 'stylesheet', href: `${ctx.assets}worker.css` }))
  const base = `/v1/workers/${encodeURIComponent(id)}`
  let status = await api('GET', base)
  document.title = `${id} · workers-spawner`
  const card = h('div', {}, statusCard(status))
  const refresh = async () => {
    status = await api('GET', base).catch(() => status)
    fill(card, statusCard(status))
  }

  const events = workerEvents(id)
  const permissionBadge = h('span', { class: 'badge count', hidden: true })
  let reloadPermissions
  events.listeners.add((e) => {
    if (e.type === 'status' || e.type === 'command_exit') void refresh()
    if (e.type === 'permission_request' || e.type === 'permission_resolved') {
      if (reloadPermissions) void reloadPermissions()
      else
        void api('GET', `${base}/permissions`).then(
          (v) => showPending(v.pending.length),
          () => {},
        )
    }
  })
  const showPending = (n) => {
    permissionBadge.hidden = n === 0
    fill(permissionBadge, String(n))
  }

  const panels = new Map()
  const mounts = {
    chat: (el) => mountChat(el, id),
    files: (el) => mountFiles(el, id, status.workdir),
    logs: (el) => mountLogs(el, id),
    events: (el) => events.mount(el),
    permissions: (el) => (reloadPermissions = mountPermissions(el, id, showPending)),
    checkpoints: (el) => mountCheckpoints(el, id),
    terminal: (el) => mountTerminal(el, id, ctx.assets),
    previews: (el) => mountPreviews(el, id),
  }
  const tabBar = h('nav', { class: 'tabs', role: 'tablist' })
  const body = h('div', { class: 'tab-panels' })
  const show = (name) => {
    if (!mounts[name]) name = 'chat'
    for (const b of tabBar.children) b.setAttribute('aria-selected', String(b.dataset.tab === name))
    for (const [key, el] of panels) el.hidden = key !== name
    if (!panels.has(name)) {
      const el = h('section', {
        role: 'tabpanel',
        class: `panel panel-${name}`,
        dataset: { tab: name },
      })
      panels.set(name, el)
      body.append(el)
      void Promise.resolve(mounts[name](el)).catch((err) =>
        fill(el, h('p', { class: 'error' }, `This tab failed to load: ${err.message}`)),
      )
    } else if (name === 'previews') void mounts.previews(panels.get(name))
    if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`)
  }
  for (const [name, label] of TABS) {
    tabBar.append(
      h(
        'button',
        { type: 'button', role: 'tab', dataset: { tab: name }, onclick: () => show(name) },
        label,
        name === 'permissions' ? permissionBadge : null,
      ),
    )
  }
  fill(
    main,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', { class: 'mono' }, id),
      h('span', { class: 'grow' }),
      h('a', { href: '/ui' }, '← all workers'),
    ),
    card,
    tabBar,
    body,
  )
  void api('GET', `${base}/permissions`).then(
    (v) => showPending(v.pending.length),
    () => {},
  )
  show(location.hash.slice(1) || 'chat')
}
