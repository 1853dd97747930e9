import { Writable, type Readable } from 'node:stream'
import type { LogLine, LogsRequest, LogsResult } from '../core/runtime.ts'
import { mustCall, type DockerContext } from './docker-call.ts'
import { streamEnded } from './exec-start.ts'
import { LogLineParser } from './log-lines.ts'

/** How many bytes of log `readLogs` reads when the request sets no `maxBytes`. */
export const DEFAULT_MAX_LOG_BYTES = 16 * 1024 * 1024

/**
 * The Engine's multiplexed log stream. Dialled directly because dockerode buffers the whole
 * answer into memory when `follow` is off, and a log can be as large as the disk allows.
 */
const openLogs = (ctx: DockerContext, id: string, req: LogsRequest, follow: boolean) =>
  new Promise<Readable>((resolve, reject) =>
    ctx.docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options: {
          stdout: true,
          stderr: true,
          timestamps: true,
          follow,
          ...(req.tail !== undefined ? { tail: req.tail } : {}),
          ...(req.since !== undefined ? { since: req.since } : {}),
        },
      },
      (err, data) => (err ? reject(err) : resolve(data as Readable)),
    ),
  )

/**
 * Feeds a multiplexed log stream into `onLine` until it ends or is destroyed. `accept` sees
 * each frame's size first; once it refuses one, nothing more is parsed and the line in
 * progress is dropped.
 */
const parseStream = async (
  ctx: DockerContext,
  stream: Readable,
  onLine: (l: LogLine) => void,
  accept: (bytes: number) => boolean = () => true,
) => {
  const parser = new LogLineParser(onLine)
  let stopped = false
  // modem.demuxStream writes each frame's payload in one write, which the parser relies on.
  const sink = (name: LogLine['stream']) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (!stopped && !(stopped = !accept(chunk.length))) parser.frame(name, chunk)
        done()
      },
    })
  ctx.docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'))
  await streamEnded(stream)
  if (!stopped) parser.end()
}

/**
 * The container's log lines so far (`tail` last lines, or since a Unix time). Reading stops
 * after `maxBytes` of log (timestamps included): the lines complete by then are returned,
 * with `truncated: true`.
 */
export const readLogs = async (
  ctx: DockerContext,
  id: string,
  req: LogsRequest = {},
): Promise<LogsResult> => {
  const maxBytes = req.maxBytes ?? DEFAULT_MAX_LOG_BYTES
  const stream = await mustCall(ctx, 'logs', { containerId: id }, () =>
    openLogs(ctx, id, req, false),
  )
  stream.on('error', (err) =>
    ctx.logger.debug('logs stream error', { containerId: id, reason: err.message }),
  )
  const lines: LogLine[] = []
  let read = 0
  let truncated = false
  await parseStream(
    ctx,
    stream,
    (line) => lines.push(line),
    (bytes) => {
      read += bytes
      if (read <= maxBytes) return true
      truncated = true
      stream.destroy()
      return false
    },
  )
  if (truncated) ctx.logger.debug('logs truncated', { containerId: id, maxBytes })
  return truncated ? { lines, truncated } : { lines }
}

/** Streams log lines to `onLine` until `signal` aborts or the container stops. */
export const followLogs = async (
  ctx: DockerContext,
  id: string,
  req: LogsRequest,
  onLine: (line: LogLine) => void,
  signal: AbortSignal,
): Promise<void> => {
  if (signal.aborted) return
  const stream = await mustCall(ctx, 'logs follow', { containerId: id }, () =>
    openLogs(ctx, id, req, true),
  )
  const stop = () => stream.destroy()
  if (signal.aborted) stop()
  signal.addEventListener('abort', stop, { once: true })
  stream.on('error', (err) =>
    ctx.logger.debug('logs stream error', { containerId: id, reason: err.message }),
  )
  try {
    await parseStream(ctx, stream, onLine)
  } finally {
    signal.removeEventListener('abort', stop)
  }
  ctx.logger.debug('logs follow done', { containerId: id, aborted: signal.aborted })
}
