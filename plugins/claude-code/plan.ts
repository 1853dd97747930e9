import { obj, str, type AgentUpdateInput, type Json } from 'workers-spawner/plugin'
import { own, type ToolUse } from './tools.ts'

/**
 * Claude Code's todo list as ACP's plan, from the output object of a tool that succeeded.
 * Which tools keep the list depends on the model and settings: `TodoWrite` (the whole list each
 * time, as `{ oldTodos, newTodos }`), or the task tools (`TaskCreate` → `{ task: { id,
 * subject } }`, `TaskUpdate` → `{ success, taskId, statusChange? }`, `TaskList` → `{ tasks }`),
 * whose list lasts as long as the session. ACP's plan is the whole list every time, so the task
 * tools make one only once the turn knows the whole list: after a `TaskList`, or from a
 * `TaskCreate` of task #1 (ids count up per list, so #1 means it was empty before).
 */

type Status = 'pending' | 'in_progress' | 'completed'

/** The task list as this turn knows it, in order of creation. */
export type Tasks = Map<string, { content: string; status: Status }>

const STATUS: Record<string, Status> = {
  pending: 'pending',
  in_progress: 'in_progress',
  completed: 'completed',
}
const statusOf = (v: unknown) => own(STATUS, str(v))

const plan = (entries: { content: string; status: Status }[]): AgentUpdateInput[] => [
  {
    sessionUpdate: 'plan',
    entries: entries.map((e) => ({ content: e.content, priority: 'medium', status: e.status })),
  },
]

/** A `TodoWrite` list; none when an entry does not read as a todo. */
const todos = (list: unknown): AgentUpdateInput[] => {
  const items = Array.isArray(list) ? list.map(obj) : []
  const entries = items.flatMap((t) => {
    const [content, status] = [str(t.content), statusOf(t.status)]
    return content && status ? [{ content, status }] : []
  })
  return entries.length === items.length ? plan(entries) : []
}

/** Applies a task tool's output to `tasks`; false when the turn cannot know the whole list. */
const track = (s: { tasks?: Tasks }, { name, input }: ToolUse, output: Json): boolean => {
  if (name === 'TaskList') {
    const listed = Array.isArray(output.tasks) ? output.tasks.map(obj) : []
    s.tasks = new Map()
    for (const t of listed) {
      const [id, content, status] = [str(t.id), str(t.subject), statusOf(t.status)]
      if (id && content && status) s.tasks.set(id, { content, status })
    }
    return true
  }
  if (name === 'TaskCreate') {
    const task = obj(output.task)
    const [id, content] = [str(task.id), str(task.subject)]
    if (!id || !content) return false
    if (id === '1') s.tasks = new Map()
    s.tasks?.set(id, { content, status: 'pending' })
    return s.tasks !== undefined
  }
  if (name === 'TaskUpdate') {
    const id = str(output.taskId) ?? str(input.taskId)
    const task = id === undefined ? undefined : s.tasks?.get(id)
    if (!task || output.success !== true) return false
    const to = str(obj(output.statusChange).to) ?? str(input.status)
    if (to === 'deleted') s.tasks!.delete(id!)
    task.status = statusOf(to) ?? task.status
    task.content = str(input.subject) ?? task.content
    return true
  }
  return false
}

/** The plan a successful todo or task tool call leaves, if it maps cleanly. */
export const planOf = (s: { tasks?: Tasks }, use: ToolUse, output: unknown): AgentUpdateInput[] => {
  if (use.name === 'TodoWrite') return todos(obj(output).newTodos ?? use.input.todos)
  return track(s, use, obj(output)) ? plan([...s.tasks!.values()]) : []
}
