import type { AgentPlugin } from './plugin/contract.ts'
import { agentUpdates } from './plugin/hooks.ts'
import type { AgentUpdate } from './plugin/updates.ts'
import { LineSplitter } from './line-splitter.ts'

/** Longest output line read for updates; a longer one (a huge tool result) is passed over. */
export const MAX_UPDATE_LINE_BYTES = 4 * 1024 * 1024

/**
 * Turns an agent CLI's stdout, as it arrives in chunks, into the plugin's updates: each complete
 * line that is a JSON object goes to `updates(line, turn)`, and every update it returns to
 * `onUpdate`. A line over the cap, a line that is not JSON and a hook that fails are passed over
 * (the failure once to `onFault`): updates are a view of the run, never a reason to stop it.
 */
export class AgentLines {
  private readonly lines = new LineSplitter(MAX_UPDATE_LINE_BYTES, (line) => this.line(line))
  private faulted = false
  /** Whether a `turn_end` went out. */
  private ended = false
  private readonly turn: Record<string, unknown> = {}

  constructor(
    private readonly agent: AgentPlugin,
    private readonly onUpdate: (update: AgentUpdate) => void,
    private readonly onFault: (err: unknown) => void = () => {},
  ) {}

  /** A chunk of stdout. */
  push(chunk: string): void {
    if (this.agent.updates) this.lines.push(chunk)
  }

  /**
   * The end of stdout: a last line without a newline still counts. A run that was stopped
   * (timed out, cancelled) before its CLI ended the turn ends it here, `cancelled`, as ACP
   * answers a prompt that was cancelled; a run that failed says so in its own updates.
   */
  end(stopped = false): void {
    this.lines.end()
    if (stopped && !this.ended && this.agent.updates) {
      this.ended = true
      this.onUpdate({ sessionUpdate: 'turn_end', stopReason: 'cancelled' })
    }
  }

  private line(text: string) {
    const trimmed = text.trim()
    if (!trimmed.startsWith('{')) return
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      return
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return
    let updates: AgentUpdate[]
    try {
      updates = agentUpdates(this.agent, json as Record<string, unknown>, this.turn)
    } catch (err) {
      if (!this.faulted) this.onFault(err)
      this.faulted = true
      return
    }
    for (const u of updates) {
      if (u.sessionUpdate === 'turn_end') this.ended = true
      this.onUpdate(u)
    }
  }
}
