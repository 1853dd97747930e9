import { Readable, Writable } from 'node:stream'
import type { LogLine, LogsRequest } from '../core/runtime.ts'
import { mustCall, type DockerContext } from './docker-call.ts'
import { streamEnded } from './exec-start.ts'
import { LogLineParser } from './log-lines.ts'

const logOptions = (req: LogsRequest) => ({
  stdout: true,
  stderr: true,
  timestamps: true,
  ...(req.tail !== undefined ? { tail: req.tail } : {}),
  ...(req.since !== undefined ? { since: req.since } : {}),
})

/** Feeds a multiplexed log stream into `onLine` until it ends or is destroyed. */
const parseStream = async (ctx: DockerContext, stream: Readable, onLine: (l: LogLine) => void) => {
  const parser = new LogLineParser(onLine)
  // modem.demuxStream writes each frame's payload in one write, which the parser relies on.
  const sink = (name: LogLine['stream']) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        parser.frame(name, chunk)
        done()
      },
    })
  ctx.docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'))
  await streamEnded(stream)
  parser.end()
}

/** The container's log lines so far (`tail` last lines, or since a Unix time). */
export const readLogs = async (
  ctx: DockerContext,
  id: string,
  req: LogsRequest = {},
): Promise<LogLine[]> => {
  const raw = await mustCall(ctx, 'logs', { containerId: id }, () =>
    ctx.docker.getContainer(id).logs({ ...logOptions(req), follow: false }),
  )
  const lines: LogLine[] = []
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw ?? ''))
  await parseStream(ctx, Readable.from([bytes]), (line) => lines.push(line))
  return lines
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
  const stream = (await mustCall(ctx, 'logs follow', { containerId: id }, () =>
    ctx.docker.getContainer(id).logs({ ...logOptions(req), follow: true }),
  )) as Readable
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
