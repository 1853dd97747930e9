import type Dockerode from 'dockerode'
import { LABELS } from '../../src/core/labels.ts'

/**
 * Removes every container, running or not, that a test's spawner instance made (by its
 * `instance` label): what a test leaves must not reach another's listing.
 */
export const removeInstanceContainers = async (docker: Dockerode, instance: string) => {
  const left = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.instance}=${instance}`] },
  })
  for (const c of left)
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined)
}
