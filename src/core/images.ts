import type { InstallStep, Plugin } from './plugin/contract.ts'
import { pluginInstallSteps } from './plugin/hooks.ts'
import type { ContainerRuntime } from './runtime.ts'
import type { Logger } from './logger.ts'
import type { Measures } from './measures.ts'
import { progressTracker, type BuildProgress, type OnBuildProgress } from './build-progress.ts'
import { UnavailableError } from './errors.ts'
import type { Emit } from './events.ts'

/** Repository of images derived from the base with plugins' install steps baked in. */
export const DERIVED_REPOSITORY = 'workers-spawner/derived'

/** The install steps of `plugins` (`install`, then `cli`), in their (dependency) order. */
export const installSteps = (plugins: readonly Plugin[]): InstallStep[] =>
  plugins.flatMap(pluginInstallSteps)

const hex = (buf: ArrayBuffer) =>
  [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('')

/** Tag of the image for (base, ordered steps); the base itself when there are no steps. */
export const derivedImageTag = async (
  base: string,
  steps: readonly InstallStep[],
): Promise<string> => {
  if (steps.length === 0) return base
  const digest = await crypto.subtle.digest(
    'SHA-256',
    new TextEncoder().encode(JSON.stringify({ base, steps })),
  )
  return `${DERIVED_REPOSITORY}:${hex(digest).slice(0, 16)}`
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The Dockerfile that bakes `steps` into `base`. Steps run as root; the image ends as `worker`. */
export const renderDockerfile = (base: string, steps: readonly InstallStep[]): string => {
  const lines = [`FROM ${base}`, 'USER root', 'ENV DEBIAN_FRONTEND=noninteractive']
  for (const step of steps) {
    if ('apt' in step) {
      lines.push(
        `RUN apt-get update && apt-get install -y --no-install-recommends ${step.apt.map(quote).join(' ')}` +
          ' && rm -rf /var/lib/apt/lists/*',
      )
    } else if ('npm' in step) {
      lines.push(
        `RUN npm install --global --prefix /usr/local --no-fund --no-audit ${step.npm.map(quote).join(' ')}` +
          ' && rm -rf /root/.npm',
      )
    } else if ('pip' in step) {
      lines.push(
        'RUN (command -v pip3 >/dev/null || (apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*))' +
          ` && pip3 install --no-cache-dir --break-system-packages ${step.pip.map(quote).join(' ')}`,
      )
    } else {
      lines.push(`RUN ${JSON.stringify(['/bin/bash', '-euo', 'pipefail', '-c', step.run])}`)
    }
  }
  lines.push('USER worker', '')
  return lines.join('\n')
}

/** Who waits on a build: its progress goes to `onProgress` and out as `image_build` events. */
export interface BuildWatcher {
  /** The worker being created ('' or absent: a build of its own). */
  workerId?: string
  /** Carried into the events. */
  requestId?: string
  onProgress?: OnBuildProgress
}

/** A build under way and those waiting on it. */
interface Build {
  done: Promise<void>
  watchers: Set<BuildWatcher>
}

/**
 * Builds derived images on first use and reuses them after. Concurrent requests for the same
 * tag share one build, and each sees its progress from when it joined.
 */
export class ImageResolver {
  private readonly inFlight = new Map<string, Build>()
  private readonly baseIds = new Map<string, { id: string | undefined; at: number }>()
  /** Bases that cannot be used now, and why (see `holdBase`). */
  private readonly heldBases = new Map<string, () => string>()

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly logger: Logger,
    private readonly emit: Emit = () => undefined,
    private readonly measures?: Measures,
  ) {}

  /**
   * Refuses every image on `base` with `not_ready` and `why()` (the base itself is being
   * built, or could not be) until `releaseBase`, or until the base image is there.
   */
  holdBase(base: string, why: () => string) {
    this.heldBases.set(base, why)
  }

  /** Lets images on `base` be used again. */
  releaseBase(base: string) {
    this.heldBases.delete(base)
  }

  /** Returns the tag to run for `plugins` on `base`, building it if absent. */
  async resolve(
    base: string,
    plugins: readonly Plugin[],
    watcher: BuildWatcher = {},
  ): Promise<{ tag: string; built: boolean }> {
    const held = this.heldBases.get(base)
    if (held) {
      // Made by hand meanwhile (the operator ran what the message said): usable again.
      if (await this.runtime.hasImage(base)) this.heldBases.delete(base)
      else throw new UnavailableError(held(), 'not_ready')
    }
    const steps = installSteps(plugins)
    if (steps.length === 0) return { tag: base, built: false }
    // The base's content id, not only its name: a rebuilt base gets new derived images.
    const baseId = await this.baseId(base)
    const tag = await derivedImageTag(baseId ? `${base}@${baseId}` : base, steps)
    const pending = this.inFlight.get(tag)
    if (pending) return this.join(tag, pending, watcher)
    if (await this.runtime.hasImage(tag)) return { tag, built: false }
    // Checked again: another caller may have started the build while hasImage was in flight.
    const raced = this.inFlight.get(tag)
    if (raced) return this.join(tag, raced, watcher)
    const build: Build = { done: Promise.resolve(), watchers: new Set([watcher]) }
    build.done = this.build(base, tag, steps, plugins, build.watchers)
    this.inFlight.set(tag, build)
    try {
      await build.done
    } finally {
      this.inFlight.delete(tag)
    }
    return { tag, built: true }
  }

  /** Waits for a build another caller started, seeing its progress from now on. */
  private async join(tag: string, build: Build, watcher: BuildWatcher) {
    build.watchers.add(watcher)
    this.tell([watcher], { tag, phase: 'progress', message: `waiting for the build of ${tag}` })
    try {
      await build.done
    } finally {
      build.watchers.delete(watcher)
    }
    return { tag, built: false }
  }

  /** Hands `progress` to each watcher and sends it out as an event for each. */
  private tell(watchers: Iterable<BuildWatcher>, progress: BuildProgress) {
    for (const w of watchers) {
      try {
        w.onProgress?.(progress)
      } catch {
        // A caller's progress handler must not break the build.
      }
      this.emit({ type: 'image_build', ...progress, workerId: w.workerId ?? '' }, w.requestId)
    }
  }

  /** The base image's id, looked up at most every few seconds. */
  private async baseId(base: string): Promise<string | undefined> {
    const known = this.baseIds.get(base)
    if (known && Date.now() - known.at < 5000) return known.id
    const id = await this.runtime.imageId(base)
    this.baseIds.set(base, { id, at: Date.now() })
    return id
  }

  private async build(
    base: string,
    tag: string,
    steps: readonly InstallStep[],
    plugins: readonly Plugin[],
    watchers: Set<BuildWatcher>,
  ) {
    const started = Date.now()
    const names = plugins.map((p) => p.name)
    this.logger.info('image build started', { tag, base, plugins: names })
    this.tell(watchers, {
      tag,
      phase: 'started',
      message: `building ${tag} from ${base} for ${names.join(', ')}`,
    })
    const tracker = progressTracker(tag)
    const measure = (outcome: 'ok' | 'failed') =>
      this.measures?.record({
        kind: 'image_build',
        outcome,
        seconds: (Date.now() - started) / 1000,
      })
    try {
      await this.runtime.buildImage(tag, renderDockerfile(base, steps), {
        labels: {
          'workers-spawner.image': 'derived',
          'workers-spawner.derived': 'true',
          'workers-spawner.base': base,
          'workers-spawner.plugins': plugins.map((p) => `${p.name}@${p.version}`).join(','),
        },
        onProgress: (line) => this.tell(watchers, tracker.line(line)),
      })
    } catch (err) {
      const durationMs = Date.now() - started
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err)
      this.tell(watchers, { tag, phase: 'failed', ...tracker.at, message, durationMs })
      measure('failed')
      throw err
    }
    measure('ok')
    const durationMs = Date.now() - started
    this.logger.info('image build finished', { tag, ms: durationMs })
    this.tell(watchers, { tag, phase: 'finished', message: `built ${tag}`, durationMs })
  }
}
