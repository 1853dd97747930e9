import type { Json } from 'workers-spawner/plugin'

/** The error the CLI reported (`{ type, message }`), or the error events when it has no message. */
export const reported = ({ type, message }: Json, events: Json[]) => {
  const also = events.filter((e) => e.type === 'error' && e.severity === 'error' && e.message)
  const said = message || also.map((e) => e.message).join('; ') || 'no message'
  return new Error(`gemini reported an error${type ? ` (${type})` : ''}: ${said}`)
}
