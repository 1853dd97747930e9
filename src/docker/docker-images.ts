import { BadRequestError, ConflictError } from '../core/errors.ts'
import {
  CHECKPOINT_LABEL,
  CHECKPOINT_TAG,
  type CommitOptions,
  type ImageInfo,
} from '../core/runtime.ts'
import { DAEMON_SECRET_ENV } from './daemon/daemon-router.ts'
import { dockerCall, mustCall, type DockerContext } from './docker-call.ts'
import { dockerMessage, dockerStatus } from './docker-errors.ts'
import { labelFilters } from './container-mapping.ts'

/** The engine's image inspect answer, as far as it is read here (dockerode types it loosely). */
interface RawImage {
  Id: string
  Created: string | number
  Size: number
  Config?: { Labels?: Record<string, string> | null } | null
  Labels?: Record<string, string> | null
  RepoTags?: string[] | null
}

const assertTag = (tag: string) => {
  if (!CHECKPOINT_TAG.test(tag)) {
    throw new BadRequestError(`'${tag}' is not a checkpoint image name`, [
      { path: 'tag', message: 'must match workers-spawner-checkpoint:<worker>-<checkpoint>' },
    ])
  }
}

const imageInfo = (tag: string, raw: RawImage): ImageInfo => ({
  tag,
  id: raw.Id,
  labels: raw.Config?.Labels ?? raw.Labels ?? {},
  createdAt:
    typeof raw.Created === 'number'
      ? new Date(raw.Created * 1000).toISOString()
      : new Date(raw.Created).toISOString(),
  sizeBytes: raw.Size,
})

/**
 * The env of the image to be: the container's, with `opts.env` over it and every entry that
 * holds a redacted value blanked, as is the daemon's secret (a container run from the image
 * gets its own). The engine merges the container's config under the one sent,
 * so the whole list is sent: nothing of the container's comes back through the merge.
 */
const commitEnv = (containerEnv: readonly string[], opts: CommitOptions): string[] => {
  const out = new Map<string, string>()
  for (const entry of containerEnv) {
    const at = entry.indexOf('=')
    const name = at < 0 ? entry : entry.slice(0, at)
    const value = at < 0 ? '' : entry.slice(at + 1)
    const secret =
      name === DAEMON_SECRET_ENV || (opts.redact ?? []).some((s) => s !== '' && value.includes(s))
    out.set(name, secret ? '' : value)
  }
  for (const [name, value] of Object.entries(opts.env)) out.set(name, value)
  return [...out].map(([name, value]) => `${name}=${value}`)
}

/** `docker commit` of a worker (paused meanwhile) into a checkpoint image; see `CommitOptions`. */
export const commitContainer = async (
  ctx: DockerContext,
  containerId: string,
  tag: string,
  opts: CommitOptions,
): Promise<ImageInfo> => {
  assertTag(tag)
  if (!opts.labels[CHECKPOINT_LABEL]) {
    throw new BadRequestError(`a checkpoint image needs the label ${CHECKPOINT_LABEL}`)
  }
  const container = ctx.docker.getContainer(containerId)
  const info = await mustCall(ctx, 'inspect', { containerId }, () => container.inspect())
  const [repo, version] = tag.split(':') as [string, string]
  const body = {
    Env: commitEnv(info.Config.Env ?? [], opts),
    Labels: { ...(info.Config.Labels ?? {}), ...opts.labels },
  }
  await mustCall(
    ctx,
    'commit',
    { containerId, tag },
    () =>
      // Query and body apart: by default docker-modem puts every option in both.
      container.commit({
        _query: { container: containerId, repo, tag: version, pause: true },
        _body: body,
      }) as Promise<unknown>,
  )
  return inspectImage(ctx, tag) as Promise<ImageInfo>
}

const inspectImage = async (ctx: DockerContext, tag: string): Promise<ImageInfo | undefined> => {
  const image = ctx.docker.getImage(tag)
  const raw = await dockerCall(
    ctx,
    'image inspect',
    { tag },
    () => image.inspect() as Promise<RawImage>,
    (err) => dockerStatus(err) === 404,
  )
  return raw && imageInfo(tag, raw)
}

/**
 * Removes a checkpoint image. Only an image with the checkpoint label goes; an absent one is
 * not an error; one a container still runs from is a ConflictError `checkpoint_in_use`.
 */
export const removeCheckpointImage = async (ctx: DockerContext, tag: string): Promise<void> => {
  assertTag(tag)
  const found = await inspectImage(ctx, tag)
  if (!found) return
  if (!found.labels[CHECKPOINT_LABEL]) {
    throw new BadRequestError(`image '${tag}' is not a checkpoint`)
  }
  const image = ctx.docker.getImage(tag)
  await dockerCall(
    ctx,
    'image remove',
    { tag },
    () =>
      image.remove().catch((err: unknown) => {
        if (dockerStatus(err) === 409) {
          throw new ConflictError(
            `checkpoint image ${tag} is in use by a container (${dockerMessage(err)})`,
            'checkpoint_in_use',
          )
        }
        throw err
      }),
    (err) => dockerStatus(err) === 404,
  )
}

/** A checkpoint image by tag: undefined when absent or not a checkpoint. */
export const checkpointImage = async (
  ctx: DockerContext,
  tag: string,
): Promise<ImageInfo | undefined> => {
  assertTag(tag)
  const found = await inspectImage(ctx, tag)
  return found?.labels[CHECKPOINT_LABEL] ? found : undefined
}

/** Checkpoint images carrying every given label. */
export const listCheckpointImages = async (
  ctx: DockerContext,
  labels: Record<string, string | undefined>,
): Promise<ImageInfo[]> => {
  const filters = { label: labelFilters({ ...labels, [CHECKPOINT_LABEL]: undefined }) }
  const rows = await mustCall(ctx, 'image list', { labels: filters.label }, () =>
    ctx.docker.listImages({ filters }),
  )
  return rows.flatMap((row) => {
    const tag = (row.RepoTags ?? []).find((t) => CHECKPOINT_TAG.test(t))
    return tag ? [imageInfo(tag, row as unknown as RawImage)] : []
  })
}
