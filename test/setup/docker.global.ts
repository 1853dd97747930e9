import Dockerode from 'dockerode'
import { describeDockerTarget } from '../../src/docker/docker-connection.ts'

/** The worker image the integration tests run (built by .ci/run or `npm run image:worker`). */
export const WORKER_IMAGE = process.env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest'

/** Fails the run, with what to start, when Docker or the worker image is missing. */
export default async function setup() {
  const docker = new Dockerode()
  const target = describeDockerTarget(process.env)
  try {
    await docker.ping()
  } catch (err) {
    throw new Error(
      `Docker Engine not reachable at ${target} (${(err as Error).message}). ` +
        'Start it (e.g. `dockerd &`) or run `bash .ci/run`, which installs and starts it.',
    )
  }
  try {
    await docker.getImage(WORKER_IMAGE).inspect()
  } catch {
    throw new Error(
      `worker image ${WORKER_IMAGE} is missing. Build it: ` +
        '`npm run image:base && BASE_IMAGE=workers-spawner/base:trixie npm run image:worker` (offline) ' +
        'or `npm run image:worker` (with a registry), or run `bash .ci/run`.',
    )
  }
}
