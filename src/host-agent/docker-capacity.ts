import type Dockerode from 'dockerode'
import { LABELS } from '../core/labels.ts'
import { toDockerError } from '../docker/docker-errors.ts'
import type { CapacityReport } from './deps.ts'

/** How many containers are inspected at once when summing limits. */
const INSPECT_BATCH = 16

/** What `GET /info` says that placement needs (dockerode leaves it untyped). */
interface EngineInfo {
  NCPU?: number
  MemTotal?: number
  Containers?: number
  ContainersRunning?: number
  ContainersPaused?: number
  Runtimes?: Record<string, unknown>
}

/**
 * The host's capacity from the Docker Engine: its CPUs and memory (`GET /info`), and the
 * memory and CPU limits of the spawner's running and paused containers, summed. `target`
 * names the engine in "not reachable" errors.
 */
export const dockerCapacity =
  (docker: Dockerode, target: string) => async (): Promise<CapacityReport> => {
    const [info, rows] = await Promise.all([
      docker.info() as Promise<EngineInfo>,
      docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.managed}=true`], status: ['running', 'paused'] },
      }),
    ]).catch((err: unknown) => {
      throw toDockerError(err, target)
    })
    const reserved = { memoryBytes: 0, nanoCpus: 0 }
    for (let i = 0; i < rows.length; i += INSPECT_BATCH) {
      const batch = rows.slice(i, i + INSPECT_BATCH)
      const limits = await Promise.all(
        batch.map((row) =>
          docker
            .getContainer(row.Id)
            .inspect()
            .then((c) => c.HostConfig)
            // Removed since it was listed: it reserves nothing.
            .catch(() => undefined),
        ),
      )
      for (const host of limits) {
        reserved.memoryBytes += host?.Memory ?? 0
        reserved.nanoCpus += host?.NanoCpus ?? 0
      }
    }
    return {
      cpus: info.NCPU ?? 0,
      memoryBytes: info.MemTotal ?? 0,
      containers: {
        running: info.ContainersRunning ?? 0,
        paused: info.ContainersPaused ?? 0,
        total: info.Containers ?? 0,
      },
      workers: rows.length,
      reserved,
      runtimes: Object.keys(info.Runtimes ?? {}),
    }
  }
