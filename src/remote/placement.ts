import type { ContainerSpec } from '../core/runtime.ts'
import type { HostCapacity } from './wire.ts'

/**
 * How many more containers like `spec` fit on a host: free memory over the spec's memory
 * limit and free CPU over its CPU limit, the smaller of the two. A dimension the host does
 * not report, or the spec does not limit, does not count; with none left, `Infinity`.
 */
export const freeSlots = (
  host: HostCapacity,
  spec: Pick<ContainerSpec, 'memoryBytes' | 'nanoCpus'>,
): number => {
  const fits: number[] = []
  if (host.memoryBytes > 0 && spec.memoryBytes > 0) {
    fits.push((host.memoryBytes - host.reserved.memoryBytes) / spec.memoryBytes)
  }
  if (host.cpus > 0 && spec.nanoCpus > 0) {
    fits.push((host.cpus * 1e9 - host.reserved.nanoCpus) / spec.nanoCpus)
  }
  return fits.length > 0 ? Math.min(...fits) : Number.POSITIVE_INFINITY
}

/**
 * The hosts that can run `spec`, best first: only those offering its OCI runtime; those that
 * already hold its image before those that do not; then the most free slots (see
 * `freeSlots`), the fewest workers, and the name, so equal hosts are chosen in a stable order.
 *
 * @example
 * const [best] = placementOrder(spec, await Promise.all(agents.map((a) => a.capacity(spec.image))))
 */
export const placementOrder = (spec: ContainerSpec, hosts: HostCapacity[]): HostCapacity[] =>
  hosts
    .filter((h) => !spec.runtime || h.runtimes.includes(spec.runtime))
    .map((host) => ({ host, slots: freeSlots(host, spec), image: host.image !== false }))
    .sort(
      (a, b) =>
        Number(b.image) - Number(a.image) ||
        (b.slots === a.slots ? 0 : b.slots > a.slots ? 1 : -1) ||
        a.host.workers - b.host.workers ||
        a.host.name.localeCompare(b.host.name),
    )
    .map((p) => p.host)
