import { chmod, lstat, mkdir, readdir, unlink } from 'node:fs/promises'
import { connect, type Server } from 'node:net'
import { join } from 'node:path'
import { WORKER_API_SOCKET } from '../core/worker-api.ts'

/** Longest Unix socket path Linux takes (`sun_path` is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107

/** True when a process accepts connections on the socket at `path`. */
export const answers = (path: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })

/**
 * Makes `server` listen on `<dir>/api.sock`, a directory that isolated containers bind-mount
 * read-only. The whole directory is visible to them, so it must hold nothing else: an
 * existing one with other entries is refused. It is made 0755 and the socket 0666 (workers
 * run as uid 1000; the service still checks each worker's token). A socket left by a dead
 * process is replaced; one that a live process answers on is refused, not taken over.
 * Returns the socket's path.
 */
export const listenInSocketDir = async (server: Server, dir: string): Promise<string> => {
  const path = join(dir, WORKER_API_SOCKET)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new Error(
      `${path}: longer than a Unix socket path may be (${MAX_SOCKET_PATH} bytes); choose a shorter directory`,
    )
  }
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const others = (await readdir(dir)).filter((name) => name !== WORKER_API_SOCKET)
  if (others.length > 0) {
    throw new Error(
      `${dir} is mounted into every isolated worker, so it must hold only ${WORKER_API_SOCKET}; ` +
        `it holds ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}: choose a directory of its own`,
    )
  }
  await chmod(dir, 0o755)
  const existing = await lstat(path).catch(() => undefined)
  if (existing) {
    if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket`)
    if (await answers(path)) throw new Error(`${path}: another process serves this socket`)
    await unlink(path)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(path, 0o666)
  return path
}
