import { CHECKS, type CheckId, type PluginReport } from './report.ts'

const seconds = (ms: number) =>
  ms >= 100 ? `${(ms / 1000).toFixed(1)} s` : ms > 0 ? `${ms} ms` : ''
const MARK = { pass: 'pass', fail: 'FAIL', 'n/a': 'n/a', skip: 'skip' } as const

/** Lines of a left-aligned text table. */
export const table = (rows: readonly (readonly string[])[]): string[] => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  )
}

/** One plugin's checks as a table: check, result, time, detail. */
export const formatReport = (report: PluginReport): string => {
  const head =
    `${report.plugin}${report.kind ? ` (${report.kind})` : ''}: ${report.ok ? 'PASS' : 'FAIL'} in ${seconds(report.ms) || '0 ms'}` +
    (report.configSource && report.kind === 'agent'
      ? `; stub settings: ${report.configSource}`
      : '')
  const rows = [
    ['check', 'result', 'time', 'detail'],
    ...report.results.map((r) => [
      CHECKS[r.id],
      MARK[r.status],
      seconds(r.ms),
      r.detail.replace(/\s+/g, ' ').slice(0, 160),
    ]),
  ]
  return [head, ...table(rows).map((l) => `  ${l}`)].join('\n')
}

/** Every plugin on one line each: the result of each check and the time it all took. */
export const formatSummary = (reports: readonly PluginReport[]): string => {
  const ids = Object.keys(CHECKS) as CheckId[]
  const rows = [
    ['plugin', ...ids, 'time'],
    ...reports.map((r) => [
      r.plugin,
      // A capability has no agent checks: '-' rather than a result.
      ...ids.map((id) => {
        const status = r.results.find((x) => x.id === id)?.status
        return status ? MARK[status] : '-'
      }),
      seconds(r.ms),
    ]),
  ]
  return table(rows).join('\n')
}
