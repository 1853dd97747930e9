import { Readable } from 'node:stream'
import { SpawnerError } from '../core/errors.ts'
import type { BuildFile } from '../core/runtime.ts'
import { mustCall, type DockerContext } from './docker-call.ts'
import { packTar } from './tar.ts'

/** How many lines of build output a failure message carries. */
const TAIL_LINES = 20

/** One JSON message of the Engine's build stream (untyped in dockerode). */
interface BuildMessage {
  stream?: string
  status?: string
  error?: string
  errorDetail?: { message?: string }
  aux?: unknown
}

/** Options of `buildImage`. */
export interface BuildOptions {
  files?: BuildFile[]
  labels?: Record<string, string>
  onProgress?: (line: string) => void
}

/**
 * Builds `tag` from a Dockerfile and files packed in memory (nothing touches the disk).
 * Rejects with `image_build_failed` and the last lines of output when a step fails.
 */
export const buildImage = async (
  ctx: DockerContext,
  tag: string,
  dockerfile: string,
  opts: BuildOptions = {},
): Promise<void> => {
  const context = await packTar([
    { path: 'Dockerfile', content: dockerfile },
    ...(opts.files ?? []).map((f) => ({
      path: f.path.replace(/^\/+/, ''),
      content: f.content,
      mode: f.mode ?? 0o644,
    })),
  ])
  const fields = { tag }
  const stream = await mustCall(ctx, 'build', fields, () =>
    ctx.docker.buildImage(Readable.from([context]), {
      t: tag,
      ...(opts.labels ? { labels: opts.labels } : {}),
      rm: true,
      forcerm: true,
    }),
  ).catch((err: unknown) => {
    // The engine refuses a Dockerfile it cannot parse before streaming anything.
    if (err instanceof SpawnerError && err.code === 'docker_error') {
      throw buildFailed(tag, err.message.replace(/^docker: /, ''), [])
    }
    throw err
  })
  const tail: string[] = []
  let failure: string | undefined
  const onMessage = (msg: BuildMessage) => {
    const error = msg.error ?? msg.errorDetail?.message
    if (error !== undefined) failure ??= error.trim()
    const text = error ?? msg.stream ?? msg.status
    if (!text) return
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      tail.push(line)
      if (tail.length > TAIL_LINES) tail.shift()
      try {
        opts.onProgress?.(line)
      } catch {
        // A caller's progress handler must not break the build.
      }
    }
  }
  const streamError = await new Promise<Error | null>((resolve) => {
    ctx.docker.modem.followProgress(stream, (err) => resolve(err), onMessage)
  })
  if (streamError) failure ??= streamError.message
  if (failure !== undefined) {
    ctx.logger.warn('docker build failed', { ...fields, reason: failure })
    throw buildFailed(tag, failure, tail)
  }
  ctx.logger.debug('docker build done', fields)
}

const buildFailed = (tag: string, reason: string, tail: string[]): SpawnerError =>
  new SpawnerError(
    'image_build_failed',
    [`building ${tag} failed: ${reason || 'unknown error'}`, ...tail].join('\n'),
  )
