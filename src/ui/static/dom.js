// Small DOM helpers: no framework, elements built by hand, text always as text.

/**
 * An element: `h('a', { href: '/ui', class: 'x', onclick: fn }, 'text', child)`. Props starting
 * with `on` are listeners, `dataset`/`style` objects merge, others are attributes (false/null
 * skip them).
 */
export const h = (tag, props = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === false || value === null || value === undefined) continue
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else if (key === 'dataset') Object.assign(el.dataset, value)
    else if (key === 'value') el.value = value
    else if (key === 'checked') el.checked = value
    else el.setAttribute(key, value === true ? '' : String(value))
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false))
  return el
}

/** Replaces an element's content. */
export const fill = (el, ...children) => {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined))
  return el
}

/** A short message at the bottom of the page; errors stay until clicked. */
export const toast = (message, kind = 'info') => {
  const el = h('div', { class: `toast ${kind}`, onclick: () => el.remove() }, message)
  document.getElementById('toasts')?.append(el)
  if (kind !== 'error') setTimeout(() => el.remove(), 4000)
}

/** Runs an action, showing its error as a toast instead of throwing. */
export const attempt = async (what, fn) => {
  try {
    return await fn()
  } catch (err) {
    toast(`${what}: ${err.message}`, 'error')
    return undefined
  }
}

/** `3s`, `5m`, `2h 10m`, `3d 4h`: a duration, coarse. */
export const duration = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const hours = Math.floor(m / 60)
  if (hours < 48) return `${hours}h ${m % 60}m`
  return `${Math.floor(hours / 24)}d ${hours % 24}h`
}

/** `1.2k`, `3.4M`: a count, short. */
export const count = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n)

/** `$0.0123`, `$4.20`. */
export const usd = (n) => `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`

/** A modal yes/no question; resolves true when confirmed. */
export const confirmDialog = (question, confirmLabel = 'Confirm') =>
  new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'confirm' },
      h('p', {}, question),
      h(
        'form',
        { method: 'dialog' },
        h('button', { value: 'cancel', class: 'secondary' }, 'Cancel'),
        h('button', { value: 'ok', class: 'danger' }, confirmLabel),
      ),
    )
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok')
      dialog.remove()
    })
    document.body.append(dialog)
    dialog.showModal()
  })
