// The chat tab: prompts to the worker's agent, streamed as they run (agent updates: text,
// thinking, tool calls, plan; the raw output on request), the parsed reply and its usage, and
// the past turns from the transcript. The session goes on: each prompt carries the last
// reply's sessionId.
import { api } from '../api.js'
import { attempt, count, fill, h, usd } from '../dom.js'
import { stream } from './sse.js'

/** One line of usage: tokens in and out, cost, time. */
const usageLine = (usage, durationMs) => {
  const parts = []
  if (usage?.inputTokens !== undefined) parts.push(`${count(usage.inputTokens)} in`)
  if (usage?.outputTokens !== undefined) parts.push(`${count(usage.outputTokens)} out`)
  if (usage?.costUsd !== undefined) parts.push(usd(usage.costUsd))
  if (durationMs !== undefined) parts.push(`${(durationMs / 1000).toFixed(1)} s`)
  return parts.length ? h('div', { class: 'usage muted' }, parts.join(' · ')) : null
}

const textOf = (content) =>
  content?.type === 'text' ? content.text : content ? JSON.stringify(content) : ''

/**
 * Renders a turn's agent updates into `box` as they come: message and thought chunks join
 * into one block each, tool calls are one line each, updated in place; a plan is a list.
 */
class UpdateView {
  constructor(box) {
    this.box = box
    this.current = null
    this.tools = new Map()
    this.plan = null
  }

  add(update) {
    switch (update.sessionUpdate) {
      case 'agent_message_chunk':
      case 'agent_thought_chunk': {
        const kind = update.sessionUpdate === 'agent_message_chunk' ? 'message' : 'thought'
        if (this.current?.dataset.kind !== kind) {
          this.current = h('div', { class: `chunk ${kind}`, dataset: { kind } })
          this.box.append(this.current)
        }
        this.current.append(textOf(update.content))
        return
      }
      case 'tool_call': {
        this.current = null
        const el = h(
          'details',
          { class: 'tool', dataset: { status: update.status ?? 'pending' } },
          h('summary', {}, `${update.kind ?? 'tool'}: ${update.title ?? update.toolCallId}`),
          h('pre', {}, JSON.stringify(update.rawInput ?? {}, null, 2)),
        )
        this.tools.set(update.toolCallId, el)
        this.box.append(el)
        return
      }
      case 'tool_call_update': {
        const el = this.tools.get(update.toolCallId)
        if (!el) return
        if (update.status) el.dataset.status = update.status
        const out = (update.content ?? []).map((c) => textOf(c.content ?? c)).join('\n')
        if (out || update.rawOutput !== undefined)
          el.append(
            h('pre', { class: 'tool-out' }, out || JSON.stringify(update.rawOutput, null, 2)),
          )
        return
      }
      case 'plan': {
        const list = h(
          'ol',
          { class: 'plan' },
          (update.entries ?? []).map((e) =>
            h('li', { dataset: { status: e.status ?? '' } }, e.content),
          ),
        )
        if (this.plan) this.plan.replaceWith(list)
        else this.box.append(list)
        this.plan = list
        this.current = null
        return
      }
      case 'error':
        this.box.append(h('div', { class: 'error' }, update.message ?? 'error'))
        return
      default:
        return
    }
  }
}

/** A finished turn: the prompt, what the agent did, the reply (or why there is none). */
const turnView = (turn) => {
  const updates = h('div', { class: 'updates' })
  const view = new UpdateView(updates)
  for (const u of turn.updates ?? []) view.add(u)
  return h(
    'article',
    { class: 'turn', dataset: { n: turn.n } },
    h('div', { class: 'prompt' }, turn.prompt),
    updates,
    turn.reply
      ? h('div', { class: 'reply' }, turn.reply.text)
      : h('div', { class: 'error' }, turn.error ?? 'no reply'),
    usageLine(turn.reply?.usage),
    turn.sessionId ? h('div', { class: 'muted session' }, `session ${turn.sessionId}`) : null,
  )
}

/** Builds the chat into `el` for worker `id`. */
export const mountChat = async (el, id) => {
  const base = `/v1/workers/${encodeURIComponent(id)}`
  const log = h('div', { class: 'chat-log' })
  let sessionId
  const session = h('span', { class: 'muted' }, 'new session')
  const showSession = () => fill(session, sessionId ? `session ${sessionId}` : 'new session')
  const input = h('textarea', {
    name: 'prompt',
    rows: 3,
    placeholder: 'Prompt for the agent (Ctrl+Enter sends)',
    'aria-label': 'prompt',
  })
  const raw = h('input', { type: 'checkbox', name: 'raw' })
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send')
  const stop = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Stop')
  const fresh = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        sessionId = undefined
        showSession()
      },
    },
    'New session',
  )
  let running

  const older = await attempt('Loading the transcript', () => api('GET', `${base}/transcript`))
  for (const turn of older?.turns ?? []) log.append(turnView(turn))
  sessionId = older?.turns?.at(-1)?.sessionId
  showSession()

  const run = async (prompt) => {
    const updates = h('div', { class: 'updates' })
    const output = h('pre', { class: 'output', hidden: !raw.checked })
    const reply = h('div', { class: 'reply pending busy' }, 'running…')
    const turn = h(
      'article',
      { class: 'turn live' },
      h('div', { class: 'prompt' }, prompt),
      updates,
      output,
      reply,
    )
    log.append(turn)
    turn.scrollIntoView({ block: 'end' })
    const view = new UpdateView(updates)
    running = new AbortController()
    send.disabled = true
    stop.disabled = false
    try {
      const body = { prompt, ...(sessionId ? { sessionId } : {}) }
      await stream(
        'POST',
        `${base}/commands`,
        body,
        (event, data) => {
          if (event === 'agent') view.add(data.update)
          else if (event === 'output') output.append(data.data)
          else if (event === 'result') {
            reply.classList.remove('pending', 'busy')
            if (data.reply) {
              fill(reply, data.reply.text)
              if (data.reply.sessionId) sessionId = data.reply.sessionId
            } else {
              reply.classList.add('error')
              fill(reply, `exit ${data.exitCode}: ${data.stderr || data.stdout || 'no reply'}`)
            }
            turn.append(usageLine(data.reply?.usage, data.durationMs) ?? '')
            showSession()
          } else if (event === 'error') {
            reply.classList.remove('pending', 'busy')
            reply.classList.add('error')
            fill(reply, data.error?.message ?? 'failed')
          }
          turn.scrollIntoView({ block: 'end' })
        },
        running.signal,
      )
    } catch (err) {
      reply.classList.remove('pending', 'busy')
      reply.classList.add('error')
      fill(reply, err.name === 'AbortError' ? 'stopped' : err.message)
    } finally {
      running = undefined
      send.disabled = false
      stop.disabled = true
    }
  }

  stop.addEventListener('click', () => running?.abort())
  raw.addEventListener('change', () => {
    for (const pre of log.querySelectorAll('pre.output')) pre.hidden = !raw.checked
  })
  const form = h(
    'form',
    {
      class: 'chat-form',
      onsubmit: (e) => {
        e.preventDefault()
        const prompt = input.value.trim()
        if (!prompt || running) return
        input.value = ''
        void run(prompt)
      },
    },
    input,
    h(
      'div',
      { class: 'toolbar' },
      send,
      stop,
      fresh,
      session,
      h('span', { class: 'grow' }),
      h('label', {}, raw, ' raw output'),
    ),
  )
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit()
  })
  fill(el, log, form)
}
