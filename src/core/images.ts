import type { InstallStep, Plugin } from './plugin/contract.ts'
import { pluginInstallSteps } from './plugin/hooks.ts'
import type { ContainerRuntime } from './runtime.ts'
import type { Logger } from './logger.ts'
import type { Measures } from './measures.ts'

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

/**
 * Builds derived images on first use and reuses them after. Concurrent requests for the same
 * tag share one build.
 */
export class ImageResolver {
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly baseIds = new Map<string, { id: string | undefined; at: number }>()

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly logger: Logger,
    private readonly measures?: Measures,
  ) {}

  /** Returns the tag to run for `plugins` on `base`, building it if absent. */
  async resolve(
    base: string,
    plugins: readonly Plugin[],
  ): Promise<{ tag: string; built: boolean }> {
    const steps = installSteps(plugins)
    if (steps.length === 0) return { tag: base, built: false }
    // The base's content id, not only its name: a rebuilt base gets new derived images.
    const baseId = await this.baseId(base)
    const tag = await derivedImageTag(baseId ? `${base}@${baseId}` : base, steps)
    const pending = this.inFlight.get(tag)
    if (pending) {
      await pending
      return { tag, built: false }
    }
    if (await this.runtime.hasImage(tag)) return { tag, built: false }
    // Checked again: another caller may have started the build while hasImage was in flight.
    const raced = this.inFlight.get(tag)
    if (raced) {
      await raced
      return { tag, built: false }
    }
    const build = this.build(base, tag, steps, plugins)
    this.inFlight.set(tag, build)
    try {
      await build
    } finally {
      this.inFlight.delete(tag)
    }
    return { tag, built: true }
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
  ) {
    const started = Date.now()
    this.logger.info('image build started', { tag, base, plugins: plugins.map((p) => p.name) })
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
      })
    } catch (err) {
      measure('failed')
      throw err
    }
    measure('ok')
    this.logger.info('image build finished', { tag, ms: Date.now() - started })
  }
}
