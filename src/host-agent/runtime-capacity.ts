import { LABELS } from '../core/labels.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import type { CapacityReport } from './deps.ts'

const active = (state: string) => state === 'running' || state === 'paused'

/**
 * A capacity report from the `ContainerRuntime` interface alone: container and worker counts
 * and runtimes, but no host size or limits (reported as 0). `dockerCapacity` knows more.
 */
export const runtimeCapacity = (runtime: ContainerRuntime) => async (): Promise<CapacityReport> => {
  const [all, runtimes] = await Promise.all([runtime.list({}), runtime.runtimes()])
  const count = (state: string) => all.filter((c) => c.state === state).length
  return {
    cpus: 0,
    memoryBytes: 0,
    containers: { running: count('running'), paused: count('paused'), total: all.length },
    workers: all.filter((c) => c.labels[LABELS.managed] === 'true' && active(c.state)).length,
    reserved: { memoryBytes: 0, nanoCpus: 0 },
    runtimes,
  }
}
