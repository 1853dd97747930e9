import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../../src/node.ts', import.meta.url))

export interface SpawnerProcess {
  child: ChildProcess
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[]
  port: number
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `src/node.ts` as its own process (what `npm start` runs) and waits until it serves. */
export const startSpawner = async (env: Record<string, string>, timeoutMs = 30_000): Promise<SpawnerProcess> => {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: { ...process.env, PORT: '0', WATCH_PLUGINS: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  let buffer = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spawner did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`spawner exited with ${code}: ${stderr}`))
    })
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          logs.push(entry)
          if (entry.msg === 'listening') {
            clearTimeout(timer)
            resolve(Number(String(entry.url).split(':').at(-1)))
          }
        } catch {
          // not a log line
        }
      }
    })
  })
  const port = await listening
  return {
    child,
    logs,
    port,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill(signal)
      }),
  }
}
