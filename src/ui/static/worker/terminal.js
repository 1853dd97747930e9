// The terminal tab: xterm.js (served from node_modules) over the worker's terminal WebSocket.
// Client to server: JSON text frames `{type:'input',data}` and `{type:'resize',cols,rows}`;
// server to client: binary frames of output, and `{type:'exit',code}` before it closes.
import { fill, h } from '../dom.js'

/**
 * xterm.js styles its rows with `<style>` elements it makes and then fills, which the pages'
 * CSP (no inline style) refuses, with an error each. Scripts may still add constructed style
 * sheets: so on this page a script's `<style>` is an inert element whose text becomes one.
 */
const styleThroughSheets = () => {
  if (document.createElement.sheets) return
  const create = document.createElement.bind(document)
  const patched = (tag, opts) => {
    if (String(tag).toLowerCase() !== 'style') return create(tag, opts)
    const el = create('sheet-style')
    const sheet = new CSSStyleSheet()
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet]
    let text = ''
    Object.defineProperty(el, 'textContent', {
      get: () => text,
      set: (value) => {
        text = String(value ?? '')
        sheet.replaceSync(text)
      },
    })
    return el
  }
  patched.sheets = true
  document.createElement = patched
}

/** Builds the terminal into `el`; `assets` is the base URL of the dashboard's files. */
export const mountTerminal = async (el, id, assets) => {
  if (!document.querySelector('link[data-xterm]')) {
    document.head.append(
      h('link', {
        rel: 'stylesheet',
        href: `${assets}vendor/xterm/xterm.css`,
        dataset: { xterm: '' },
      }),
    )
  }
  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import(`${assets}vendor/xterm/xterm.mjs`),
    import(`${assets}vendor/xterm/addon-fit.mjs`),
  ])
  const screen = h('div', { class: 'terminal-screen' })
  const state = h('span', { class: 'muted' }, 'connecting…')
  const again = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Reconnect')
  fill(el, h('div', { class: 'toolbar' }, state, h('span', { class: 'grow' }), again), screen)
  styleThroughSheets()
  const term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false })
  const fit = new FitAddon()
  term.loadAddon(fit)
  term.open(screen)
  fit.fit()

  let socket
  const send = (msg) => socket?.readyState === WebSocket.OPEN && socket.send(JSON.stringify(msg))
  term.onData((data) => send({ type: 'input', data }))
  term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }))
  new ResizeObserver(() => el.offsetParent && fit.fit()).observe(screen)

  const connect = () => {
    again.hidden = true
    const url = new URL(`/v1/workers/${encodeURIComponent(id)}/terminal`, location.href)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    socket = new WebSocket(url)
    socket.binaryType = 'arraybuffer'
    socket.onopen = () => {
      fill(state, 'connected')
      send({ type: 'resize', cols: term.cols, rows: term.rows })
      term.focus()
    }
    socket.onmessage = (m) => {
      if (typeof m.data !== 'string') return term.write(new Uint8Array(m.data))
      const msg = JSON.parse(m.data)
      if (msg.type === 'exit') fill(state, `exited (${msg.code})`)
    }
    socket.onclose = () => {
      if (!/exited/.test(state.textContent)) fill(state, 'closed')
      again.hidden = false
    }
  }
  again.addEventListener('click', () => {
    term.reset()
    connect()
  })
  connect()
  return () => socket?.close()
}
