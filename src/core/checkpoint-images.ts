import type { WorkerConfig } from './config.ts'
import { LABEL_PREFIX } from './config.ts'
import { LABELS } from './labels.ts'
import { networkOf } from './network.ts'
import { CHECKPOINT_LABEL, type ImageInfo } from './runtime.ts'
import type { WorkerRecord } from './worker-record.ts'

/**
 * Checkpoints are images, and their labels are their record: a checkpoint lives and dies with
 * its image, so a restarted service finds them again with nothing stored besides. Labels never
 * hold secrets (see `commitOptions` for what a checkpoint leaves out).
 */
export const CHECKPOINT_LABELS = {
  id: CHECKPOINT_LABEL,
  workerId: `${LABEL_PREFIX}checkpoint-of`,
  createdAt: `${LABEL_PREFIX}checkpoint-created-at`,
  /** Prompt turns of the worker's conversation when it was taken. */
  turns: `${LABEL_PREFIX}checkpoint-turns`,
  /** The worker's last transcript turn when it was taken (forks copy the transcript up to it). */
  transcriptTurn: `${LABEL_PREFIX}checkpoint-transcript-turn`,
  /** `true` for one taken after a prompt (WorkerConfig.checkpoint): retention deletes those. */
  auto: `${LABEL_PREFIX}checkpoint-auto`,
  /** The derived image the worker ran (forks record it as theirs). */
  workerImage: `${LABEL_PREFIX}checkpoint-image`,
  instance: `${LABEL_PREFIX}checkpoint-instance`,
} as const

/** A checkpoint as callers see it (see `checkpointSchema`). */
export interface Checkpoint {
  checkpointId: string
  workerId: string
  createdAt: string
  turns: number
  /** The worker's last transcript turn when it was taken; 0 when it had none. */
  transcriptTurn: number
  auto: boolean
  sizeBytes: number
  image: string
}

/**
 * Checkpoints a worker may hold besides its per-turn ones (those taken by `checkpoint` and by a
 * `fork` that names none): each is a copy of its files on the host's disk.
 */
export const MAX_CHECKPOINTS = 20

/** A new checkpoint id: `c-` and 16 hex digits. */
export const newCheckpointId = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return 'c-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** The image of a checkpoint; only names of this form are committed or removed (CHECKPOINT_TAG). */
export const checkpointTag = (workerId: string, checkpointId: string) =>
  `workers-spawner-checkpoint:${workerId}-${checkpointId}`

/** A checkpoint read back from its image, or undefined when the labels are not a checkpoint's. */
export const checkpointOf = (image: ImageInfo): Checkpoint | undefined => {
  const l = image.labels
  const checkpointId = l[CHECKPOINT_LABELS.id]
  const workerId = l[CHECKPOINT_LABELS.workerId]
  if (!checkpointId || !workerId) return undefined
  const turns = Number(l[CHECKPOINT_LABELS.turns] ?? 0)
  const transcriptTurn = Number(l[CHECKPOINT_LABELS.transcriptTurn] ?? 0)
  return {
    checkpointId,
    workerId,
    createdAt: l[CHECKPOINT_LABELS.createdAt] || image.createdAt,
    turns: Number.isInteger(turns) && turns >= 0 ? turns : 0,
    transcriptTurn: Number.isInteger(transcriptTurn) && transcriptTurn >= 0 ? transcriptTurn : 0,
    auto: l[CHECKPOINT_LABELS.auto] === 'true',
    sizeBytes: image.sizeBytes,
    image: image.tag,
  }
}

/** Prompt turns of a worker's conversation: those it started with, and its prompts since. */
export const turnsOf = (r: WorkerRecord): number => {
  const prompts = r.usage?.prompts ?? 0
  return r.turns ? r.turns.base + Math.max(0, prompts - r.turns.promptsAtBase) : prompts
}

/**
 * Labels that blank, on a container started from a checkpoint, every label the image has but
 * the container's spec does not set: Docker gives a container its image's labels, and the image
 * has those of the container it was committed from (another worker's id, pool, parent, …).
 */
export const blankLabels = (labels: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.keys(labels).map((k) => [k, '']))

/**
 * The config a worker was made from, as far as its record holds it: what a restore or a fork
 * starts again with. Its `files` are in the checkpoint's filesystem.
 */
export const configOf = (r: WorkerRecord): WorkerConfig => ({
  agent: r.agent,
  capabilities: r.capabilities,
  env: r.configEnv ?? {},
  files: {},
  workdir: r.workdir,
  ttlSeconds: r.ttlSeconds,
  idleSeconds: r.idleSeconds,
  resources: r.resources,
  allowedTools: r.allowedTools,
  maxChildren: r.maxChildren,
  maxDepth: r.maxDepth,
  spawnablePlugins: r.spawnablePlugins,
  network: networkOf(r),
  labels: r.labels,
  ...(r.budget ? { budget: r.budget } : {}),
  ...(r.checkpoint ? { checkpoint: r.checkpoint } : {}),
  // A worker that asks has forks that ask: its own rules (those above it come again from its
  // parent), never its operator's "always" answers.
  ...(r.permissions
    ? {
        permissions: {
          ...r.permissions.own,
          approver: r.permissions.approver,
          timeoutMs: r.permissions.timeoutMs,
        },
      }
    : {}),
})

/** Env names that authorize or name the worker: a checkpoint never keeps their values. */
export const WORKER_ENV = [
  'ORCHESTRATOR_TOKEN',
  'ORCHESTRATOR_URL',
  'ORCHESTRATOR_ALLOWED_TOOLS',
  'WORKERS_SPAWNER_WORKER_ID',
] as const

/** A pool worker's command env without the service's variables (a fork gets its own). */
export const ownEnv = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).filter(([k]) => !(WORKER_ENV as readonly string[]).includes(k)),
  )
