import type { ExecRequest } from '../core/runtime.ts'

/**
 * Calls `cancel('abort')` when `req.signal` aborts (at once when it already has) and
 * `cancel('timeout')` once `req.timeoutMs`, counted from the command's start (`elapsedMs`), runs
 * out. Returns what disarms both; `cancel` must itself ignore a second call.
 */
export const armCancel = (
  req: Pick<ExecRequest, 'signal' | 'timeoutMs'>,
  elapsedMs: () => number,
  cancel: (why: 'timeout' | 'abort') => void,
): (() => void) => {
  const onAbort = () => cancel('abort')
  req.signal?.addEventListener('abort', onAbort, { once: true })
  if (req.signal?.aborted) onAbort()
  const timer =
    req.timeoutMs === undefined
      ? undefined
      : setTimeout(() => cancel('timeout'), Math.max(0, req.timeoutMs - elapsedMs()))
  return () => {
    clearTimeout(timer)
    req.signal?.removeEventListener('abort', onAbort)
  }
}
