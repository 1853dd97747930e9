import { obj, type AgentUpdateInput } from 'workers-spawner/plugin'

/**
 * droid's TodoWrite list as plan entries, read the way droid reads it (its `todos` is a string
 * of lines such as `1. [in_progress] Write tests`; it also takes an array of lines or of items).
 */

/** A plan entry, as the agent updates have it. */
type Entry = Extract<AgentUpdateInput, { sessionUpdate: 'plan' }>['entries'][number]

const TODO_LINE = /^(?:\d+[.)]\s*|[-*]\s+)?\[(completed|in_progress|pending|[xX]|\s*)\]\s*(.*)$/
const LIST_ITEM = /^(?:\d+[.)]|[-*])\s+(.+)$/

/** One line of a todo list, read as droid reads it (`1. [in_progress] …`, `- [x] …`, …). */
const todoLine = (line: string): Entry => {
  const marked = TODO_LINE.exec(line)
  if (marked) {
    const mark = marked[1]!.trim()
    const status =
      mark === 'x' || mark === 'X' ? 'completed' : ((mark || 'pending') as Entry['status'])
    // droid's own priority for a line, which names none.
    return { content: marked[2]!.trim() || '(no description)', status, priority: 'high' }
  }
  return { content: LIST_ITEM.exec(line)?.[1]!.trim() ?? line, status: 'pending', priority: 'high' }
}

/** A todo item given as an object, with droid's defaults. */
const todoItem = (item: unknown): Entry | undefined => {
  const { content, status, priority } = obj(item)
  if (typeof content !== 'string' || !content.trim()) return undefined
  const s = String(status).toLowerCase()
  const p = String(priority).toLowerCase()
  return {
    content,
    status: s === 'in_progress' || s === 'completed' ? s : 'pending',
    priority: p === 'high' || p === 'low' ? p : 'medium',
  }
}

/**
 * TodoWrite's `todos` as plan entries: a string of lines (what models send), lines as an array,
 * or items as objects, the forms droid accepts. Undefined when nothing reads as a todo.
 */
export const planOf = (todos: unknown): Entry[] | undefined => {
  let value = todos
  if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      value = JSON.parse(value)
    } catch {
      // a line that starts with `[`, such as `[ ] a task`
    }
  }
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map(todoLine)
  const entries =
    typeof value === 'string'
      ? lines(value)
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? lines(value.join('\n'))
        : Array.isArray(value)
          ? value.map(todoItem).filter((e) => e !== undefined)
          : []
  return entries.length ? entries : undefined
}
