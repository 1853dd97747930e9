/**
 * What the service measures besides its events: how long creates, commands, prompts and image
 * builds took and whether warm pools served. Exporters (Prometheus in the Node entry) subscribe;
 * nothing here knows about them, and with no subscriber a measure costs one call.
 */

/** One measurement. Every string in it comes from a bounded set: plugin names, fixed words. */
export type Measure =
  | {
      kind: 'create'
      /** The agent plugin's name (`none` without one). */
      agent: string
      source: 'pool' | 'fresh'
      outcome: 'ok' | 'failed'
      seconds: number
    }
  /** A create that could have taken a pool container: `hit` when one was ready. */
  | { kind: 'pool'; agent: string; hit: boolean }
  | { kind: 'image_build'; outcome: 'ok' | 'failed'; seconds: number }
  /** A `send_command` (a shell command) or a prompt to the worker's agent, once it ended. */
  | {
      kind: 'command'
      type: 'command' | 'prompt'
      agent: string
      outcome: 'ok' | 'failed' | 'timeout'
      seconds: number
    }

/** Distributes measures to exporters. */
export class Measures {
  private readonly listeners = new Set<(m: Measure) => void>()

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (m: Measure) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  record(m: Measure): void {
    for (const listener of this.listeners) {
      try {
        listener(m)
      } catch {
        // An exporter's failure must never fail the work it measured.
      }
    }
  }
}
