/**
 * Loaded into the CLI (NODE_OPTIONS): its stdout and stderr written synchronously. The CLI ends
 * with `process.exit` right after its last line, and a pipe's pending writes die with it: with a
 * big prompt echoed first (stream-json), the result line was lost.
 */
export const BLOCKING_STDIO =
  'for (const s of [process.stdout, process.stderr]) s._handle?.setBlocking?.(true)\n'

/** Where the worker keeps it. */
export const PRELOAD = '/home/worker/.gemini/blocking-stdio.cjs'
