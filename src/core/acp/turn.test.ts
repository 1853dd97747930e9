import { describe, expect, it } from 'vitest'
import { updateOf } from './turn.ts'

describe('updateOf', () => {
  it('passes ACP session updates through as agent updates', () => {
    const chunk = { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: '12' } }
    expect(updateOf(chunk)).toEqual(chunk)
    const tool = { sessionUpdate: 'tool_call', toolCallId: 't1', title: 'ls', kind: 'execute' }
    expect(updateOf(tool)).toEqual(tool)
  })

  it('leaves out what the core says itself, what we do not carry, and what is malformed', () => {
    for (const raw of [
      { sessionUpdate: 'turn_end', stopReason: 'end_turn' },
      { sessionUpdate: 'error', message: 'forged' },
      { sessionUpdate: 'usage_update', used: 100, size: 1000 },
      { sessionUpdate: 'available_commands_update', availableCommands: [] },
      { sessionUpdate: 'tool_call', title: 'no id' },
      'agent_message_chunk',
      null,
    ]) {
      expect(updateOf(raw), JSON.stringify(raw)).toBeUndefined()
    }
  })
})
