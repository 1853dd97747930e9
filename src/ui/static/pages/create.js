// Create a worker: a form built from the loaded plugins (GET /v1/plugins) and the WorkerConfig
// schema (the body of POST /v1/workers in /openapi.json). Plugins are fetched again every few
// seconds, so one added while the page is open shows up without a reload.
import { api } from '../api.js'
import { attempt, fill, h, toast } from '../dom.js'
import { fieldFor, labelled } from '../form.js'

const PLUGINS_EVERY_MS = 5000
/** Shown first, in this order; the rest of the schema goes under "More options". */
const MAIN = [
  'labels',
  'env',
  'files',
  'ttlSeconds',
  'idleSeconds',
  'resources',
  'allowedTools',
  'permissions',
]

/** Builds the create page. */
export const mount = async (main) => {
  const [doc, first] = await Promise.all([api('GET', '/openapi.json'), api('GET', '/v1/plugins')])
  const schema = doc.paths['/v1/workers'].post.requestBody.content['application/json'].schema
  let plugins = first

  const agent = h('select', { id: 'f-agent', required: true, name: 'agent' })
  const agentHint = h('div', { class: 'hint' })
  const capabilities = h('div', { class: 'checks', id: 'f-capabilities' })
  const loaded = h('span', { class: 'muted', id: 'plugins-loaded' })

  /** Agent options and capability boxes from the plugin list, keeping what was chosen. */
  const renderPlugins = () => {
    const chosen = agent.value
    const checked = new Set([...capabilities.querySelectorAll('input:checked')].map((i) => i.value))
    const agents = plugins.plugins.filter((p) => p.kind === 'agent')
    fill(
      agent,
      agents.map((p) => h('option', { value: p.name }, `${p.name} ${p.version}`)),
    )
    agent.value = agents.some((p) => p.name === chosen)
      ? chosen
      : ((agents.find((p) => p.name === 'shell') ?? agents[0])?.name ?? '')
    agentHint.textContent = agents.find((p) => p.name === agent.value)?.description ?? ''
    fill(
      capabilities,
      plugins.plugins
        .filter((p) => p.kind === 'capability')
        .map((p) =>
          h(
            'label',
            { title: p.description },
            h('input', { type: 'checkbox', value: p.name, checked: checked.has(p.name) }),
            ` ${p.name}`,
          ),
        ),
    )
    loaded.textContent = `${plugins.plugins.length} plugins, loaded ${new Date(plugins.loadedAt).toLocaleTimeString()}`
  }
  agent.addEventListener('change', () => {
    agentHint.textContent = plugins.plugins.find((p) => p.name === agent.value)?.description ?? ''
  })
  renderPlugins()

  const props = schema.properties
  const fields = Object.fromEntries(
    Object.entries(props)
      .filter(([k]) => k !== 'agent' && k !== 'capabilities')
      .map(([k, s]) => [k, fieldFor(k, s)]),
  )
  const others = Object.keys(fields).filter((k) => !MAIN.includes(k))
  const raw = h('textarea', {
    id: 'f-raw',
    rows: 4,
    placeholder: '{ "network": { "allow": ["registry.npmjs.org"] } }',
  })
  const submit = h('button', { type: 'submit', class: 'primary', id: 'create' }, 'Create worker')
  const result = h('div', { id: 'created', 'aria-live': 'polite' })

  const form = h(
    'form',
    { class: 'config', id: 'create-form' },
    h(
      'div',
      { class: 'field', dataset: { field: 'agent' } },
      h('label', { for: 'f-agent' }, 'agent'),
      h('div', {}, agent, agentHint),
    ),
    h(
      'div',
      { class: 'field', dataset: { field: 'capabilities' } },
      h('label', {}, 'capabilities'),
      h(
        'div',
        {},
        capabilities,
        h('div', { class: 'hint' }, props.capabilities?.description ?? ''),
      ),
    ),
    MAIN.filter((k) => fields[k]).map((k) => labelled(k, props[k], fields[k])),
    h(
      'details',
      { class: 'advanced' },
      h('summary', {}, 'More options'),
      h(
        'div',
        { class: 'config' },
        others.map((k) => labelled(k, props[k], fields[k])),
      ),
      labelled(
        'json',
        { description: 'merged over the fields above' },
        { id: 'f-raw', el: raw },
        'JSON',
      ),
    ),
    h('div', {}, submit),
    result,
  )

  const readConfig = () => {
    const config = { agent: agent.value }
    const caps = [...capabilities.querySelectorAll('input:checked')].map((i) => i.value)
    if (caps.length) config.capabilities = caps
    for (const [k, f] of Object.entries(fields)) {
      const v = f.read()
      if (v !== undefined) config[k] = v
    }
    if (raw.value.trim()) Object.assign(config, JSON.parse(raw.value))
    return config
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    let config
    try {
      config = readConfig()
    } catch (err) {
      return toast(err.message, 'error')
    }
    submit.disabled = true
    submit.textContent = 'Creating…'
    fill(result)
    const out = await attempt('create', () => api('POST', '/v1/workers', config))
    submit.disabled = false
    submit.textContent = 'Create worker'
    if (!out) return
    fill(
      result,
      h(
        'p',
        { class: 'card' },
        'Created ',
        h('a', { href: `/ui/workers/${out.workerId}`, class: 'mono' }, out.workerId),
        ` (${out.status}${out.imageBuilt ? ', image built' : ''}). `,
        h('a', { href: '/ui' }, 'All workers'),
      ),
    )
  })

  fill(
    main,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Create a worker'),
      h('span', { class: 'grow' }),
      loaded,
    ),
    form,
  )

  const poll = async () => {
    if (document.visibilityState !== 'visible') return
    const next = await api('GET', '/v1/plugins').catch(() => undefined)
    if (!next) return
    const key = (p) => p.plugins.map((x) => `${x.kind}:${x.name}@${x.version}`).join(',')
    const changed = key(next) !== key(plugins)
    plugins = next
    if (changed) renderPlugins()
  }
  setInterval(poll, PLUGINS_EVERY_MS)
  document.addEventListener('visibilitychange', poll)
}
