import { z } from 'zod'

/** How a container's log is rotated on the Docker host (the `json-file` driver's options). */
export interface LogRotation {
  /** Size of one log file before it is rotated, in Docker's units: `10m`, `512k`, `1g`. */
  maxSize: string
  /** Log files kept per container, the current one included. */
  maxFiles: number
}

/** 10 MiB × 3 files: at most 30 MiB of log per worker on the host's disk. */
export const DEFAULT_LOG_ROTATION: LogRotation = { maxSize: '10m', maxFiles: 3 }

/**
 * The environment variables that set how workers' logs are rotated, shared by the service
 * (its in-process Docker runtime) and the host agent: whoever talks to Docker applies them.
 */
export const logRotationSettings = {
  /** Size of one worker log file before it is rotated: `10m`, `512k`, `1g`. */
  WORKER_LOG_MAX_SIZE: z
    .string()
    .regex(/^[1-9][0-9]*[kmg]?$/, 'a size such as 10m, 512k or 1g')
    .default(DEFAULT_LOG_ROTATION.maxSize),
  /** Log files kept per worker, the current one included. */
  WORKER_LOG_MAX_FILES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(DEFAULT_LOG_ROTATION.maxFiles),
}

/** The `LogRotation` those variables describe. */
export const logRotationOf = (s: {
  WORKER_LOG_MAX_SIZE: string
  WORKER_LOG_MAX_FILES: number
}): LogRotation => ({
  maxSize: s.WORKER_LOG_MAX_SIZE,
  maxFiles: s.WORKER_LOG_MAX_FILES,
})
