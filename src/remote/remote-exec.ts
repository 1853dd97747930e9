import { UnavailableError } from '../core/errors.ts'
import type { ExecRequest, ExecResult } from '../core/runtime.ts'
import type { ExecBody } from './wire.ts'
import type { AgentClient } from './agent-client.ts'
import { OutputTail } from './output-tail.ts'

/** Exit code of an aborted exec, as `DockerRuntime` reports it (128 + SIGINT). */
const EXIT_ABORTED = 130
/** How long a cancelled exec may take to send its result before the connection is dropped. */
const CANCEL_GRACE_MS = 10_000

const newExecId = (): string =>
  [...crypto.getRandomValues(new Uint8Array(12))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')

/**
 * Runs an exec on a host agent. Output chunks reach `onOutput` in order as the agent streams
 * them. When `signal` aborts, the exec is cancelled by its id and its result (exit 130, the
 * output so far) is still read, so the kill has finished when this returns; if the agent
 * cannot be told, the connection is dropped, which aborts the exec there too, and the result
 * is made here from the output received.
 */
export const remoteExec = async (
  agent: AgentClient,
  id: string,
  req: ExecRequest,
): Promise<ExecResult> => {
  const started = Date.now()
  const tail = new OutputTail(req.maxOutputBytes)
  const aborted = (): ExecResult => ({
    exitCode: EXIT_ABORTED,
    ...tail.result(),
    timedOut: false,
    durationMs: Date.now() - started,
  })
  if (req.signal?.aborted) return aborted()
  const execId = newExecId()
  const body: ExecBody = {
    argv: req.argv,
    execId,
    ...(req.env ? { env: req.env } : {}),
    ...(req.workdir ? { workdir: req.workdir } : {}),
    ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
    ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    ...(req.maxOutputBytes !== undefined ? { maxOutputBytes: req.maxOutputBytes } : {}),
  }
  const connection = new AbortController()
  let cancelled = false
  let grace: ReturnType<typeof setTimeout> | undefined
  const cancel = () => {
    cancelled = true
    grace = setTimeout(() => connection.abort(), CANCEL_GRACE_MS)
    agent
      .call('DELETE', `/v1/execs/${execId}`, { idempotent: true }, async () => undefined)
      // Not running there (yet, or any more), or the agent is away: drop the connection.
      .catch(() => connection.abort())
  }
  req.signal?.addEventListener('abort', cancel, { once: true })
  try {
    const path = `/v1/containers/${encodeURIComponent(id)}/exec`
    const res = await agent.send('POST', path, { json: body, signal: connection.signal })
    for await (const line of agent.lines(res)) {
      if ('stream' in line) {
        tail.push(line.stream, line.data)
        try {
          req.onOutput?.(line.stream, line.data)
        } catch {
          // A caller's handler must not break the exec (DockerRuntime ignores it too).
        }
      } else if ('result' in line && line.result) {
        return line.result
      } else if ('error' in line) {
        throw agent.errorOf(line)
      }
    }
    if (cancelled) return aborted()
    throw new UnavailableError(`host agent ${agent.name} ended the exec without a result`)
  } catch (err) {
    // Cancelled by the caller: whatever broke the answer, the exec is over.
    if (cancelled) return aborted()
    throw err
  } finally {
    clearTimeout(grace)
    req.signal?.removeEventListener('abort', cancel)
  }
}
