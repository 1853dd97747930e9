import { Readable } from 'node:stream'
import { extract, pack } from 'tar-stream'
import { describe, expect, it } from 'vitest'
import { PayloadTooLargeError } from '../core/errors.ts'
import { packTar, readSingleFile } from './tar.ts'

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

const headersOf = async (tar: Buffer) => {
  const ex = extract()
  Readable.from([tar]).pipe(ex)
  const headers = []
  for await (const entry of ex) {
    headers.push(entry.header)
    entry.resume()
  }
  return headers
}

/** A stream that hands the archive over in small pieces, as a socket would. */
const trickle = (tar: Buffer, size = 100) =>
  Readable.from(
    Array.from({ length: Math.ceil(tar.length / size) }, (_, i) =>
      tar.subarray(i * size, (i + 1) * size),
    ),
  )

describe('packTar', () => {
  it('writes files with mode, owner and exact bytes, and directories', async () => {
    const tar = await packTar([
      { type: 'directory', path: 'etc', mode: 0o700, uid: 5, gid: 6 },
      { path: 'etc/bin.dat', content: allBytes, mode: 0o600, uid: 1000, gid: 1000 },
      { path: 'note.txt', content: 'héllo ✓' },
    ])
    const headers = await headersOf(tar)
    expect(headers.map((h) => [h.name, h.type, h.mode, h.uid, h.gid, h.size])).toEqual([
      ['etc', 'directory', 0o700, 5, 6, 0],
      ['etc/bin.dat', 'file', 0o600, 1000, 1000, 256],
      ['note.txt', 'file', 0o644, 0, 0, Buffer.byteLength('héllo ✓')],
    ])
  })
})

describe('readSingleFile', () => {
  it('round-trips all 256 byte values', async () => {
    const tar = await packTar([{ path: 'bin.dat', content: allBytes }])
    const item = await readSingleFile(trickle(tar))
    expect(item).toEqual({ type: 'file', content: allBytes })
  })

  it('round-trips a buffer larger than one read', async () => {
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)
    const item = await readSingleFile(trickle(await packTar([{ path: 'x', content: big }]), 4096))
    expect(item.type === 'file' && Buffer.compare(item.content, big)).toBe(0)
  })

  it('reports a directory, a symlink and an empty archive', async () => {
    const dir = await packTar([
      { type: 'directory', path: 'd' },
      { path: 'd/f', content: 'x' },
    ])
    expect(await readSingleFile(Readable.from([dir]))).toEqual({ type: 'directory' })
    const link = pack()
    link.entry({ name: 'l', type: 'symlink', linkname: '/etc/hostname' })
    link.finalize()
    expect(await readSingleFile(link as unknown as Readable)).toEqual({
      type: 'symlink',
      target: '/etc/hostname',
    })
    expect(await readSingleFile(Readable.from([Buffer.alloc(1024)]))).toEqual({ type: 'none' })
  })

  it('refuses a file over maxBytes', async () => {
    const tar = await packTar([{ path: 'f', content: new Uint8Array(2048) }])
    await expect(readSingleFile(trickle(tar), { maxBytes: 2047, label: '/f' })).rejects.toThrow(
      PayloadTooLargeError,
    )
    await expect(readSingleFile(trickle(tar), { maxBytes: 2048 })).resolves.toMatchObject({
      type: 'file',
    })
  })

  it('rejects when the source fails', async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error('socket hang up'))
      },
    })
    await expect(readSingleFile(broken)).rejects.toThrow('socket hang up')
  })
})
