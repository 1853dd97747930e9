import type { Logger } from '../core/logger.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import type { NdjsonOptions } from './ndjson-response.ts'
import type { HostCapacity } from '../remote/wire.ts'

/** What a host's capacity provider reports; the agent adds its name and the image check. */
export type CapacityReport = Omit<HostCapacity, 'name' | 'image'>

/** What the route groups of the host agent share. */
export interface AgentDeps {
  runtime: ContainerRuntime
  name: string
  logger: Logger
  capacity: () => Promise<CapacityReport>
  maxBodyBytes: number
  stream: NdjsonOptions
}
