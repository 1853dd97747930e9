import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import type Dockerode from 'dockerode'

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)

/**
 * The key worker tokens are signed with: `SPAWNER_TOKEN_SECRET`; else derived from
 * `SPAWNER_API_TOKEN` (so instances sharing the API token accept each other's worker tokens);
 * else a random key kept in `<stateDir>/token-secret`, so tokens survive a restart.
 */
export const tokenSecret = (env: { SPAWNER_TOKEN_SECRET?: string; SPAWNER_API_TOKEN?: string }, stateDir = join(homedir(), '.workers-spawner')): string => {
  if (env.SPAWNER_TOKEN_SECRET) return env.SPAWNER_TOKEN_SECRET
  if (env.SPAWNER_API_TOKEN) {
    return createHash('sha256').update(`workers-spawner worker tokens\0${env.SPAWNER_API_TOKEN}`).digest('hex')
  }
  const file = join(stateDir, 'token-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('hex')
  writeFileSync(file, secret, { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}

/** The address of the Docker bridge on this host: where `host.docker.internal` points. */
export const bridgeGateway = async (docker: Dockerode): Promise<string | undefined> => {
  let info: { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] }; Options?: Record<string, string> }
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
