/**
 * The conformance kit for plugin authors:
 *   npm run plugin:check -- <plugin folder | package name> [...]
 * validates each plugin, builds its image, starts a worker and runs the contract checks against
 * the stub model; prints a pass/fail table and exits 1 when any check fails. Needs Docker and
 * the worker image (WORKER_IMAGE). CHECK_CONCURRENCY checks several plugins at once.
 */
import { registerPluginResolver } from '../src/node/plugin-resolve.ts'
import { checkPlugins } from './plugin-check/run.ts'
import { formatReport, formatSummary } from './plugin-check/table.ts'

const args = process.argv.slice(2).filter((a) => a !== '--')
if (args.length === 0 || args.includes('--help')) {
  process.stderr.write('usage: npm run plugin:check -- <plugin folder | package name> [...]\n')
  process.exit(args.length === 0 ? 1 : 0)
}
// Plugins outside this checkout import 'workers-spawner/plugin' too.
registerPluginResolver()
try {
  const reports = await checkPlugins(args, {
    concurrency: Number(process.env.CHECK_CONCURRENCY ?? 1) || 1,
    onReport: (r) => process.stdout.write(`${formatReport(r)}\n\n`),
  })
  for (const r of reports.filter((r) => !r.kind && r.results[0]?.status === 'fail')) {
    process.stdout.write(`${formatReport(r)}\n\n`)
  }
  if (reports.length > 1) process.stdout.write(`${formatSummary(reports)}\n`)
  process.exit(reports.every((r) => r.ok) ? 0 : 1)
} catch (err) {
  process.stderr.write(`plugin-check: ${(err as Error).message}\n`)
  process.exit(2)
}
