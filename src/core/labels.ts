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
  /** Set on warm-pool containers: the pool they were made for. */
  pool: `${LABEL_PREFIX}pool`,
} as const
