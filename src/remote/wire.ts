/**
 * The host agent's HTTP API as both sides see it: paths, the NDJSON lines of streamed answers,
 * and the capacity report. Types only, so the client (which may run in a serverless runtime)
 * pulls in nothing of the server.
 *
 * ```
 * GET    /healthz                          { ok, name }              no token needed
 * GET    /v1/ping                          { ok }                    503 when Docker is down
 * GET    /v1/capacity?image=TAG            HostCapacity
 * GET    /v1/runtimes                      { runtimes }
 * GET    /v1/images?tag=TAG                { id }                    id null when absent
 * POST   /v1/images                        NDJSON { progress }…      body: BuildBody
 * GET    /v1/containers?label=K=V&label=K  { containers }
 * POST   /v1/containers                    201 { id }                body: ContainerSpec
 * GET    /v1/containers/:id                ContainerInfo             404 no_such_container
 * DELETE /v1/containers/:id                204                       absent is no error
 * POST   /v1/containers/:id/pause          204                       also /unpause
 * POST   /v1/containers/:id/exec           NDJSON { stream, data }…  body: ExecBody
 * DELETE /v1/execs/:execId                 204                       404 when not running
 * POST   /v1/containers/:id/watch          NDJSON { change }…        body: WatchBody; ends
 *                                                                     { result: null } when the
 *                                                                     container goes
 * PUT    /v1/containers/:id/files          204                       raw body; query path,
 *                                                                     mode (octal), uid, gid,
 *                                                                     roots (repeated)
 * GET    /v1/containers/:id/files          raw bytes                 query path, maxBytes,
 *                                                                     uid, gid, roots
 * GET    /v1/containers/:id/logs           { lines, truncated? }     query tail, since, maxBytes
 * GET    /v1/containers/:id/logs?follow=1  NDJSON { line }…
 * POST   /v1/containers/:id/commit         201 ImageInfo             body: CommitBody; tag a
 *                                                                     checkpoint's (CHECKPOINT_TAG)
 * GET    /v1/checkpoints?label=K=V         { images }                checkpoint images only
 * GET    /v1/checkpoints/:tag              { image }                 null when absent
 * DELETE /v1/checkpoints/:tag              204                       checkpoint images only;
 *                                                                     409 checkpoint_in_use
 * ```
 *
 * Errors are `{ error: { code, message, details? } }` with the core's status codes. A streamed
 * answer that fails after its first line ends with `{ error, status }` instead of `{ result }`;
 * while it is quiet it sends `{ heartbeat: true }` so a dead connection is noticed.
 */
import type { ExecResult, FileChange, LogLine } from '../core/runtime.ts'

/** The code of the 404 that `GET /v1/containers/:id` answers for an unknown container. */
export const NO_SUCH_CONTAINER = 'no_such_container'

/** Body of `POST /v1/containers/:id/exec`: an `ExecRequest` without its callbacks. */
export interface ExecBody {
  argv: string[]
  env?: Record<string, string>
  workdir?: string
  stdin?: string
  timeoutMs?: number
  maxOutputBytes?: number
  /** Chosen by the caller, so it can cancel the exec with `DELETE /v1/execs/:execId`. */
  execId?: string
}

/** Body of `POST /v1/containers/:id/watch`: a `WatchRequest` without its callbacks. */
export interface WatchBody {
  path: string
  recursive?: boolean
  roots?: string[]
}

/** Body of `POST /v1/images`: a Dockerfile and the files of its context, base64-encoded. */
export interface BuildBody {
  tag: string
  dockerfile: string
  files?: { path: string; content: string; mode?: number }[]
  labels?: Record<string, string>
}

/** Body of `POST /v1/containers/:id/commit`: the tag and the `CommitOptions`. */
export interface CommitBody {
  tag: string
  labels: Record<string, string>
  env: Record<string, string>
  redact?: string[]
}

/** What a host has and what its spawner containers have reserved; used to place workers. */
export interface HostCapacity {
  name: string
  /** CPUs and memory of the Docker host (0 when unknown). */
  cpus: number
  memoryBytes: number
  /** Every container on the engine, by state. */
  containers: { running: number; paused: number; total: number }
  /** Spawner containers (label `workers-spawner.managed=true`) running or paused. */
  workers: number
  /** Sum of those workers' limits. */
  reserved: { memoryBytes: number; nanoCpus: number }
  /** OCI runtimes the engine offers. */
  runtimes: string[]
  /** Whether the image asked for with `?image=` is present. */
  image?: boolean
}

/** One line of a streamed answer. */
export type StreamLine =
  | { heartbeat: true }
  | { stream: 'stdout' | 'stderr'; data: string }
  | { line: LogLine }
  | { change: FileChange }
  | { progress: string }
  | { result: ExecResult | null }
  | { error: { code: string; message: string; details?: unknown }; status: number }
