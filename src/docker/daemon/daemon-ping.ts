import type { DaemonConnection } from './daemon-connection.ts'
import { startRequest } from './daemon-request.ts'

/** What a worker's daemon says of itself (`ping`). */
export interface DaemonInfo {
  pid: number
  version: string
  /** Its resident memory, in bytes. */
  rssBytes: number
}

/** Asks the daemon on `conn` who it is; rejects when it does not say within `timeoutMs`. */
export const daemonPing = async (conn: DaemonConnection, timeoutMs = 5000): Promise<DaemonInfo> => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn.close('no answer to ping')
      reject(new Error(`the worker's daemon did not answer a ping within ${timeoutMs} ms`))
    }, timeoutMs)
  })
  try {
    const end = await Promise.race([startRequest(conn, { op: 'ping' }), late])
    if (!end.ok) throw new Error(`the worker's daemon failed a ping: ${end.error.message}`)
    return {
      pid: Number(end.pid),
      version: String(end.version),
      rssBytes: Number(end.rssBytes),
    }
  } finally {
    clearTimeout(timer)
  }
}
