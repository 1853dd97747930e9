import { LABEL_PREFIX } from './config.ts'

/** Label keys the spawner puts on every worker container. Values never hold secrets. */
export const LABELS = {
  managed: `${LABEL_PREFIX}managed`,
  workerId: `${LABEL_PREFIX}worker-id`,
  agent: `${LABEL_PREFIX}agent`,
  capabilities: `${LABEL_PREFIX}capabilities`,
  createdAt: `${LABEL_PREFIX}created-at`,
  ttlSeconds: `${LABEL_PREFIX}ttl-seconds`,
  idleSeconds: `${LABEL_PREFIX}idle-seconds`,
  workdir: `${LABEL_PREFIX}workdir`,
  instance: `${LABEL_PREFIX}instance`,
  parent: `${LABEL_PREFIX}parent`,
  depth: `${LABEL_PREFIX}depth`,
  /** The operator-made worker at the top of a sub-worker tree (itself for a root). */
  root: `${LABEL_PREFIX}root`,
  allowedTools: `${LABEL_PREFIX}allowed-tools`,
  maxChildren: `${LABEL_PREFIX}max-children`,
  maxDepth: `${LABEL_PREFIX}max-depth`,
  /** Limits sub-worker rules compare against: `memoryMb,cpus,pids`. */
  resources: `${LABEL_PREFIX}resources`,
  /** Host mounts, as JSON (host paths, never secrets). */
  mounts: `${LABEL_PREFIX}mounts`,
  spawnablePlugins: `${LABEL_PREFIX}spawnable-plugins`,
  network: `${LABEL_PREFIX}network`,
  /** The egress allow list (host patterns), as JSON; absent without the proxy. */
  egress: `${LABEL_PREFIX}egress`,
  /** The model budget at create, as JSON. */
  budget: `${LABEL_PREFIX}budget`,
  /**
   * `true` when the create wrote nothing into the container after starting it: until the
   * service first writes the signed state file (hand-out, update, activity), these labels are
   * the whole state. Without it, a container with no state file never finished its create.
   */
  stateInLabels: `${LABEL_PREFIX}state-in-labels`,
  /** Automatic checkpoints after each prompt: how many it keeps (see WorkerConfig.checkpoint). */
  checkpointKeep: `${LABEL_PREFIX}checkpoint-keep`,
  /** Prompt turns its conversation had when its container started from a checkpoint. */
  turnsBase: `${LABEL_PREFIX}turns-base`,
  /** A fork: the worker it was forked from, and the checkpoint. */
  forkedFrom: `${LABEL_PREFIX}forked-from`,
  forkCheckpoint: `${LABEL_PREFIX}fork-checkpoint`,
  /**
   * A restore's new container: the container it replaces. While that one still exists the
   * restore did not finish, and recovery removes this one.
   */
  replaces: `${LABEL_PREFIX}replaces`,
  /** Set on warm-pool containers: the pool they were made for. */
  pool: `${LABEL_PREFIX}pool`,
} as const
