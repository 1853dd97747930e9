import { randomBytes } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { homedir, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import type Dockerode from 'dockerode'

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)

/**
 * The key worker tokens and the state kept inside workers are signed with:
 * `SPAWNER_TOKEN_SECRET`, else a random key kept in `<stateDir>/token-secret` (0600), so tokens
 * and workers survive a restart. Never derived from the API token: a worker holds a token signed
 * with it, and must not be able to test guesses of the API token offline. Processes starting at
 * once agree on one key (the file is created atomically, first one wins).
 */
export const tokenSecret = (
  env: { SPAWNER_TOKEN_SECRET?: string | undefined },
  stateDir = join(homedir(), '.workers-spawner'),
): string => {
  if (env.SPAWNER_TOKEN_SECRET) return env.SPAWNER_TOKEN_SECRET
  const file = join(stateDir, 'token-secret')
  const kept = () => readFileSync(file, 'utf8').trim()
  try {
    return kept()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(draft, randomBytes(32).toString('hex'), { mode: 0o600 })
  try {
    linkSync(draft, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(draft)
  }
  return kept()
}

/** The address of the Docker bridge on this host: where `host.docker.internal` points. */
export const bridgeGateway = async (docker: Dockerode): Promise<string | undefined> => {
  let info: {
    IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] }
    Options?: Record<string, string>
  }
  try {
    info = await docker.getNetwork('bridge').inspect()
  } catch {
    return undefined
  }
  const config = info.IPAM?.Config ?? []
  const gateway = config.find((c) => c.Gateway)?.Gateway
  if (gateway) return gateway
  // Older engines leave Gateway out: the bridge interface holds it.
  const name = info.Options?.['com.docker.network.bridge.name'] ?? 'docker0'
  const address = networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address
  if (address) return address
  const subnet = config.find((c) => c.Subnet?.includes('.'))?.Subnet
  const m = subnet && /^(\d+\.\d+\.\d+)\.0\/\d+$/.exec(subnet)
  return m ? `${m[1]}.1` : undefined
}
