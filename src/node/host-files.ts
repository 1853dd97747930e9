import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

/**
 * Reads a regular file of this host for plugins' `hostFiles` (e.g. a CLI login), refusing
 * anything else (a directory, a device, a FIFO that would block) and anything over `maxBytes`.
 */
export const readHostFile = async (path: string, maxBytes: number): Promise<Uint8Array> => {
  // Non-blocking, so a FIFO planted at the path cannot hang the create.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const stat = await file.stat()
    if (!stat.isFile()) throw new Error('not a regular file')
    if (stat.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`)
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(stat.size), position: 0 })
    return new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead)
  } finally {
    await file.close()
  }
}
