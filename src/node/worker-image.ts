import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { progressTracker, stepOf, type BuildProgress } from '../core/build-progress.ts'
import type { Emit } from '../core/events.ts'
import type { ImageResolver } from '../core/images.ts'
import type { Logger } from '../core/logger.ts'
import type { ContainerRuntime } from '../core/runtime.ts'

const SCRIPT = fileURLToPath(new URL('../../images/build-worker.sh', import.meta.url))

/**
 * Bases the worker image is built from when BASE_IMAGE is unset, in order: the one
 * `images/bootstrap-base.sh` makes (no registry needed), then the Dockerfile's default.
 */
export const WORKER_BASES = ['workers-spawner/base:trixie', 'ubuntu:24.04'] as const

/** Lines of progress kept for `progress` (the first ones and the last ones). */
const KEPT = 500

/** The worker image at start: found, being built, or missing with nothing to build it from. */
export interface WorkerImage {
  state: 'present' | 'building' | 'built' | 'failed' | 'missing'
  /** Settles when the build (if any) is over: true when the image is there. */
  done: Promise<boolean>
  /** The build's progress, as sent out in `image_build` events. */
  progress: BuildProgress[]
  /** Stops a build under way (the service is shutting down). */
  stop(): void
}

export interface WorkerImageOptions {
  runtime: ContainerRuntime
  images: ImageResolver
  emit: Emit
  logger: Logger
  /** WORKER_IMAGE. */
  image: string
  env: NodeJS.ProcessEnv
  /** The engine is this machine's (the build script's `docker` reaches it); not host agents. */
  local: boolean
}

/** What to run by hand to make `image`, from `base` or from nothing. */
const howTo = (image: string, base?: string) =>
  base
    ? `WORKER_IMAGE=${image} BASE_IMAGE=${base} npm run image:worker`
    : `sudo bash images/bootstrap-base.sh && WORKER_IMAGE=${image} BASE_IMAGE=${WORKER_BASES[0]} npm run image:worker ` +
      `(or, with a registry: docker pull ${WORKER_BASES[1]} && WORKER_IMAGE=${image} npm run image:worker)`

/**
 * Makes sure the worker image is there when the service starts. Missing, it is built in the
 * background by `images/build-worker.sh` from an existing base image, its progress on the log
 * and out as `image_build` events (worker id ''); creates meanwhile are refused with
 * `not_ready` saying where the build is. With no base image either, nothing is built (a base
 * takes root and debootstrap): creates are refused with what to run, until the image appears.
 */
export const ensureWorkerImage = async (opts: WorkerImageOptions): Promise<WorkerImage> => {
  const { runtime, images, logger, image, env } = opts
  const progress: BuildProgress[] = []
  const result = (state: WorkerImage['state'], done: Promise<boolean>, stop = () => {}) => {
    const out: WorkerImage = { state, done, progress, stop }
    void done.then((ok) => (out.state = state === 'building' ? (ok ? 'built' : 'failed') : state))
    return out
  }
  if (await runtime.hasImage(image)) return result('present', Promise.resolve(true))
  if (!opts.local) {
    logger.warn('worker image missing: creates will fail until it is built on the host agents', {
      image,
      hint: howTo(image, env.BASE_IMAGE),
    })
    return result('missing', Promise.resolve(false))
  }
  let base = env.BASE_IMAGE
  if (!base) {
    for (const candidate of WORKER_BASES) {
      if (await runtime.hasImage(candidate)) {
        base = candidate
        break
      }
    }
  }
  if (!base) {
    const message = `the worker image ${image} is missing, and no base image to build it from (${WORKER_BASES.join(', ')}); run: ${howTo(image)}`
    logger.error('worker image missing', { image, run: howTo(image) })
    images.holdBase(image, () => message)
    return result('missing', Promise.resolve(false))
  }

  const tracker = progressTracker(image)
  const started = Date.now()
  let tail = ''
  const tell = (p: BuildProgress) => {
    if (progress.length >= KEPT) progress.splice(KEPT / 2, 1)
    progress.push(p)
    opts.emit({ type: 'image_build', workerId: '', ...p })
  }
  const where = () => {
    const at = tracker.at
    return at ? `step ${at.step}/${at.steps}` : 'starting'
  }
  images.holdBase(
    image,
    () =>
      `the worker image ${image} is being built from ${base} (${where()}, ${Math.round((Date.now() - started) / 1000)} s so far); creates can run once it is done`,
  )
  logger.info('worker image missing: building it', {
    image,
    base,
    script: 'images/build-worker.sh',
  })
  tell({ tag: image, phase: 'started', message: `building ${image} from ${base}` })

  // Its own process group, so stopping it stops the docker CLI under it too.
  const child = spawn('bash', [SCRIPT], {
    env: {
      ...env,
      WORKER_IMAGE: image,
      BASE_IMAGE: base,
      // The CA this process trusts is the one the worker's agents will meet too.
      SPAWNER_CA_BUNDLE: env.SPAWNER_CA_BUNDLE ?? env.NODE_EXTRA_CA_CERTS ?? '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const onLine = (line: string) => {
    if (!line.trim()) return
    tail = line.replace(/^build-worker: (error: )?/, '')
    tell(tracker.line(line))
    // Each step on the log; the lines in between only at debug.
    const at = stepOf(line)
    if (at) logger.info('worker image build', { image, ...at, line })
    else logger.debug('worker image build', { image, line })
  }
  createInterface({ input: child.stdout }).on('line', onLine)
  createInterface({ input: child.stderr }).on('line', onLine)

  const done = new Promise<boolean>((resolve) => {
    let over = false
    const finish = async (code: number | null, error?: Error) => {
      if (over) return
      over = true
      const durationMs = Date.now() - started
      const present = code === 0 && (await runtime.hasImage(image).catch(() => false))
      if (present) {
        images.releaseBase(image)
        logger.info('worker image built', { image, base, ms: durationMs })
        tell({ tag: image, phase: 'finished', message: `built ${image}`, durationMs })
        return resolve(true)
      }
      const reason = error?.message ?? (tail || `the build exited with ${code}`)
      const message = `the worker image ${image} could not be built (${reason}); see the log, then run: ${howTo(image, base)}`
      images.holdBase(image, () => message)
      logger.error('worker image build failed', { image, base, reason, run: howTo(image, base) })
      tell({ tag: image, phase: 'failed', ...tracker.at, message: reason, durationMs })
      resolve(false)
    }
    child.once('error', (err) => void finish(null, err))
    child.once('close', (code) => void finish(code))
  })
  const stop = () => {
    if (child.exitCode !== null || child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      // Already gone.
    }
  }
  return result('building', done, stop)
}
