import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SPAWNER = fileURLToPath(new URL('../../src/node.ts', import.meta.url))

/** A Node entry point running as its own process, with its JSON log lines collected. */
export interface NodeProcess {
  child: ChildProcess
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[]
  stderr(): string
  kill(signal?: NodeJS.Signals): Promise<void>
}

/**
 * Starts `node --import tsx <entry>` and waits for its `listening` log line, which it
 * returns; fails with the process's stderr when it exits or takes too long.
 */
export const startNodeProcess = async (
  entry: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<NodeProcess & { listening: Record<string, unknown> }> => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  let buffer = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${entry} did not start in ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    )
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${entry} exited with ${code}: ${stderr}`))
    })
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        try {
          const log = JSON.parse(line) as Record<string, unknown>
          logs.push(log)
          if (log.msg === 'listening') {
            clearTimeout(timer)
            resolve(log)
          }
        } catch {
          // not a log line
        }
      }
    })
  })
  return {
    child,
    logs,
    listening,
    stderr: () => stderr,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill(signal)
      }),
  }
}

export interface SpawnerProcess extends NodeProcess {
  port: number
}

/**
 * Starts `src/node.ts` as its own process (what `npm start` runs) and waits until it serves.
 * Its worker API socket goes to a temporary directory per instance (not the home directory),
 * removed when the process is killed.
 */
export const startSpawner = async (
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<SpawnerProcess> => {
  const socketDir = join(tmpdir(), `ws-run-${env.SPAWNER_INSTANCE ?? process.pid}`)
  const p = await startNodeProcess(
    SPAWNER,
    { PORT: '0', WATCH_PLUGINS: '0', WORKER_SOCKET_DIR: socketDir, ...env },
    timeoutMs,
  )
  const kill = async (signal?: NodeJS.Signals) => {
    await p.kill(signal)
    // It holds only the socket. A crash (SIGKILL) leaves it, as a real one would: its isolated
    // workers mount it, and the engine cannot reach into them while it is missing.
    if (!env.WORKER_SOCKET_DIR && signal !== 'SIGKILL')
      rmSync(socketDir, { recursive: true, force: true })
  }
  return { ...p, kill, port: Number(String(p.listening.url).split(':').at(-1)) }
}

/** What a JSON call to a spawner process answered. */
export interface CallResult {
  status: number
  // Tests read whatever the route answers.
  json: any
}

/**
 * JSON calls to a spawner process on its port, as `curl` would make them: a JSON body with its
 * content type, and `Authorization: Bearer` when a token is given (per call, or for all).
 */
export const spawnerClient =
  (p: { port: number }, token?: string) =>
  async (
    method: string,
    path: string,
    body?: unknown,
    bearer: string | undefined = token,
  ): Promise<CallResult> => {
    const res = await fetch(`http://127.0.0.1:${p.port}${path}`, {
      method,
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: await res.json() }
  }
