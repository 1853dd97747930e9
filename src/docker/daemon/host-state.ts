import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { open, rename, rm, writeFile } from 'node:fs/promises'
import { PayloadTooLargeError } from '../../core/errors.ts'

/**
 * The bytes `StateKeepingRuntime` keeps for a container, in files beside the containers' daemon
 * directories (`<dir>/<16 hex>.state` next to `<dir>/<16 hex>/`): inside the base directory,
 * which is 0700 and never mounted, so no container sees them; the directory a container mounts
 * is the one beside. Other instances sharing the directory read the same files.
 */
export class HostStateFiles {
  constructor(
    /** The host directory of container `name` (its daemon directory): the file is beside it. */
    private readonly dirOf: (name: string) => string,
  ) {}

  /** The file of container `name`. */
  pathOf(name: string): string {
    return `${this.dirOf(name)}.state`
  }

  /** Writes to a temporary file (0600) and renames it over: a reader never sees half. */
  async put(name: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(name)
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx' })
      await rename(tmp, path)
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw err
    }
  }

  /** The bytes, or undefined when there is no file; past `maxBytes` a PayloadTooLargeError. */
  async get(name: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const file = await open(this.pathOf(name), constants.O_RDONLY | constants.O_NOFOLLOW).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      },
    )
    if (!file) return undefined
    try {
      // One byte past the cap tells a file at the cap from a longer one, whatever stat says.
      const buf = Buffer.alloc(Math.min(maxBytes + 1, (await file.stat()).size + 1))
      let n = 0
      while (n < buf.length) {
        const { bytesRead } = await file.read(buf, n, buf.length - n, n)
        if (bytesRead === 0) break
        n += bytesRead
      }
      if (n > maxBytes) {
        throw new PayloadTooLargeError(
          `the state kept for container ${name} is over ${maxBytes} bytes`,
        )
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, n)
    } finally {
      await file.close()
    }
  }

  /** Removes the file of container `name` (an absent one is not an error). */
  async remove(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true })
  }
}
