import type { z } from 'zod'
import type { ActivityGuard } from './activity.ts'
import { base64ToBytes, bytesToBase64, utf8Decode, utf8Encode } from './bytes.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, PayloadTooLargeError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { fileRoots, resolveFilePath } from './paths.ts'
import type * as S from './schemas.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

/**
 * Files in and out of workers (`send_file`, `read_file`, and the HTTP routes' raw bytes): always
 * under the worker's roots, never over the size limit, written and read as the worker's user.
 */
export class WorkerFiles {
  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly guard: ActivityGuard,
  ) {}

  async sendFile(input: z.output<typeof S.sendFileInput>, hooks: CommandHooks = {}) {
    const record = await this.store.get(input.workerId)
    const path = resolveFilePath(input.path, fileRoots(record.workdir))
    let bytes: Uint8Array
    if (input.encoding === 'base64') {
      try {
        bytes = base64ToBytes(input.content)
      } catch {
        throw new BadRequestError('content: not valid base64', [
          { path: 'content', message: 'not valid base64' },
        ])
      }
    } else {
      bytes = utf8Encode(input.content)
    }
    hooks.onEffect?.()
    return this.putBytes(record, path, bytes, input.mode)
  }

  /** Writes raw bytes into a worker. */
  async putBytes(
    recordOrId: WorkerRecord | string,
    rawPath: string,
    bytes: Uint8Array,
    mode?: number,
  ) {
    const record = typeof recordOrId === 'string' ? await this.store.get(recordOrId) : recordOrId
    const roots = fileRoots(record.workdir)
    const path = resolveFilePath(rawPath, roots)
    const max = this.ctx.maxFileBytes
    if (bytes.length > max)
      throw new PayloadTooLargeError(`file is ${bytes.length} bytes; the limit is ${max}`)
    await this.guard.active(record, () =>
      this.ctx.runtime.putFile(record.containerId, path, bytes, {
        ...(mode === undefined ? {} : { mode }),
        roots,
      }),
    )
    return { path, size: bytes.length }
  }

  /** Reads raw bytes out of a worker. */
  async getBytes(workerId: string, rawPath: string): Promise<{ path: string; bytes: Uint8Array }> {
    const record = await this.store.get(workerId)
    const roots = fileRoots(record.workdir)
    const path = resolveFilePath(rawPath, roots)
    const bytes = await this.guard.active(record, () =>
      this.ctx.runtime.getFile(record.containerId, path, {
        maxBytes: this.ctx.maxFileBytes,
        roots,
      }),
    )
    return { path, bytes }
  }

  async readFile(
    input: z.output<typeof S.readFileInput>,
  ): Promise<z.output<typeof S.readFileOutput>> {
    const { path, bytes } = await this.getBytes(input.workerId, input.path)
    const content = input.encoding === 'utf8' ? utf8Decode(bytes) : bytesToBase64(bytes)
    return { path, size: bytes.length, encoding: input.encoding, content }
  }
}
