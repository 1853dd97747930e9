import { redactSecrets, type Logger } from '../core/logger.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface JsonLoggerOptions {
  level?: LogLevel
  /** Values that must never be printed (secrets); replaced by `[redacted]`. */
  secrets?: () => readonly string[]
  write?: (line: string) => void
  base?: Record<string, unknown>
}

/** A logger that writes one JSON object per line and scrubs known secret values. */
export const createJsonLogger = (opts: JsonLoggerOptions = {}): Logger => {
  const min = ORDER[opts.level ?? 'info']
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'))
  const emit = (level: LogLevel, msg: string, fields?: object) => {
    if (ORDER[level] < min) return
    const line = JSON.stringify({
      level,
      time: new Date().toISOString(),
      msg,
      ...opts.base,
      ...fields,
    })
    write(redactSecrets(line, opts.secrets?.() ?? []))
  }
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  }
}
