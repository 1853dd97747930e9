import Dockerode from 'dockerode'

/** The socket dockerode uses when `DOCKER_HOST` is unset. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

/**
 * Where the Docker client connects, for humans: `DOCKER_HOST` when set, else the default
 * socket.
 *
 * @example
 * describeDockerTarget(process.env) // 'unix:///var/run/docker.sock'
 */
export const describeDockerTarget = (env: Record<string, string | undefined>): string => {
  const host = env.DOCKER_HOST?.trim()
  return host ? host : DEFAULT_DOCKER_HOST
}

/**
 * A Dockerode client for the engine named by the process environment. Dockerode reads
 * `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` itself when given no options
 * (passing any would be merged with, not replace, what it read).
 */
export const createDocker = (): Dockerode => new Dockerode()
