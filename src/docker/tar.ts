import { extract, pack } from 'tar-stream'
import { PayloadTooLargeError } from '../core/errors.ts'

/** One entry of an in-memory tar archive. Paths are relative to the archive root. */
export type TarEntry =
  | {
      type?: 'file'
      path: string
      content: Uint8Array | string
      mode?: number
      uid?: number
      gid?: number
    }
  | { type: 'directory'; path: string; mode?: number; uid?: number; gid?: number }

/** What `readSingleFile` found as the archive's first entry. */
export type TarItem =
  | { type: 'file'; content: Uint8Array }
  | { type: 'directory' }
  | { type: 'symlink'; target: string }
  | { type: 'other' }
  | { type: 'none' }

/**
 * Packs entries into one tar buffer (no disk). Files default to mode 0644 and directories to
 * 0755, both owned by 0:0 unless given.
 *
 * @example
 * await packTar([{ path: 'Dockerfile', content: 'FROM scratch\n' }])
 */
export const packTar = async (entries: TarEntry[]): Promise<Buffer> => {
  const archive = pack()
  const mtime = new Date()
  for (const entry of entries) {
    const base = { name: entry.path, uid: entry.uid ?? 0, gid: entry.gid ?? 0, mtime }
    if (entry.type === 'directory') {
      archive.entry({ ...base, type: 'directory', mode: entry.mode ?? 0o755 })
    } else {
      const body =
        typeof entry.content === 'string'
          ? Buffer.from(entry.content, 'utf8')
          : toBuffer(entry.content)
      archive.entry({ ...base, type: 'file', mode: entry.mode ?? 0o644, size: body.length }, body)
    }
  }
  archive.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of archive) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * Reads the first entry of a tar stream (what the Engine's `getArchive` returns for one
 * path). A regular file is read whole unless it is larger than `maxBytes`, which throws a
 * PayloadTooLargeError without reading the rest. The source is drained or destroyed.
 */
export const readSingleFile = async (
  source: NodeJS.ReadableStream & { destroy?: (err?: Error) => void },
  opts: { maxBytes?: number; label?: string } = {},
): Promise<TarItem> => {
  const { maxBytes = Number.POSITIVE_INFINITY, label = 'file' } = opts
  const ex = extract()
  source.on('error', (err: Error) => ex.destroy(err))
  source.pipe(ex)
  try {
    for await (const entry of ex) {
      const { type, size = 0, linkname } = entry.header
      if (type === 'directory') return { type }
      if (type === 'symlink') return { type, target: linkname ?? '' }
      if (type !== 'file' && type !== 'contiguous-file') return { type: 'other' }
      if (size > maxBytes) throw tooLarge(label, maxBytes)
      const chunks: Buffer[] = []
      let read = 0
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        read += chunk.length
        if (read > maxBytes) throw tooLarge(label, maxBytes)
        chunks.push(chunk)
      }
      return { type: 'file', content: new Uint8Array(Buffer.concat(chunks)) }
    }
    return { type: 'none' }
  } finally {
    source.destroy?.()
  }
}

const tooLarge = (label: string, maxBytes: number): PayloadTooLargeError =>
  new PayloadTooLargeError(`${label} is larger than ${maxBytes} bytes`)

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
