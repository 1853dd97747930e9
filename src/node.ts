/**
 * Node entry (`npm start`): the service from the process environment (see src/node/start.ts,
 * src/settings.ts and the README), until SIGTERM or SIGINT.
 */
import { StartupError, startNode } from './node/start.ts'

const fail = (line: string): never => {
  process.stderr.write(`workers-spawner: ${line}\n`)
  process.exit(1)
}

const node = await startNode(process.env).catch((err: unknown) =>
  fail(err instanceof StartupError ? err.message : String((err as Error)?.stack ?? err)),
)

process.on('SIGHUP', () => {
  node
    .reloadPlugins()
    .catch((err) => node.logger.error('plugin reload failed', { error: String(err) }))
})

let closing = false
const shutdown = (signal: string) => {
  if (closing) return
  closing = true
  node.logger.info('shutting down', { signal })
  // Open event streams would hold the listener: whatever is left after 5 s is cut.
  setTimeout(() => process.exit(0), 5000).unref()
  node.close().then(
    () => process.exit(0),
    (err) => {
      node.logger.error('shutdown failed', { error: String(err) })
      process.exit(1)
    },
  )
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
