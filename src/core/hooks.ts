import type { OnBuildProgress } from './build-progress.ts'
import type { AgentUpdate } from './plugin/updates.ts'

/** Why a worker is paused or deleted. */
export type ChangeReason = 'request' | 'ttl' | 'idle' | 'error'

/** What an adapter passes along with a command: streaming, cancellation, who asks. */
export interface CommandHooks {
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void
  /** The agent's progress while a prompt runs, in the common vocabulary (see `AgentUpdate`). */
  onUpdate?: (update: AgentUpdate, seq: number) => void
  signal?: AbortSignal
  /** Carried into the events this request causes. */
  requestId?: string
  /** The worker making the call (orchestrator CLI); a create by it makes a sub-worker. */
  caller?: string
  /**
   * Called right before the command's first call that changes something (a container started,
   * a command run, a file or state written, a pause, a removal). A failure before it left
   * nothing changed, so the command may be retried; after it, it may have taken effect.
   */
  onEffect?: () => void
  /** The progress of an image the command builds (or waits for), as it comes. */
  onBuild?: OnBuildProgress
}
