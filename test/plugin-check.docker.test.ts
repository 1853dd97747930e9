import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkPlugins } from '../scripts/plugin-check/run.ts'
import type { PluginReport } from '../scripts/plugin-check/report.ts'
import { formatReport, formatSummary } from '../scripts/plugin-check/table.ts'
import { PLUGINS_DIR } from './support/harness.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const BUNDLED = readdirSync(PLUGINS_DIR).filter((name) =>
  existsSync(join(PLUGINS_DIR, name, 'index.ts')),
)

/**
 * Checks a bundled plugin is known to fail today, with why. The test holds them to it: it fails
 * when one starts to pass (remove its entry then) and when any other check fails.
 */
const KNOWN_GAPS: Record<string, Record<string, string>> = {
  'factory-droid': {
    'failing-endpoint':
      'droid retries a failing model for minutes and has no setting to cap it (README)',
  },
}

// The agent plugins run their real CLIs: the first run builds their images (minutes); later runs
// reuse them. Four plugins at a time.
describe('the conformance kit on every bundled plugin', () => {
  const reports = new Map<string, PluginReport>()

  beforeAll(async () => {
    const all = await checkPlugins(
      BUNDLED.map((name) => join(PLUGINS_DIR, name)),
      { image: WORKER_IMAGE, pluginsDir: PLUGINS_DIR, concurrency: 4 },
    )
    for (const r of all) reports.set(r.plugin, r)
    process.stdout.write(`${all.map(formatReport).join('\n\n')}\n\n${formatSummary(all)}\n`)
  }, 1_800_000)

  it.each(BUNDLED)('%s passes every check that applies to it', (name) => {
    const report = reports.get(name)!
    const gaps = KNOWN_GAPS[name] ?? {}
    expect(
      report.results
        .filter((r) => r.status === 'fail' && !(r.id in gaps))
        .map((r) => `${r.id}: ${r.detail}`),
      formatReport(report),
    ).toEqual([])
    const stillFailing = report.results.filter((r) => r.id in gaps).map((r) => r.status)
    expect(stillFailing, `${name}: a known gap passes now, remove it`).toEqual(
      Object.keys(gaps).map(() => 'fail'),
    )
    // Every check ran (or does not apply): none was skipped behind a failure.
    expect(report.results.filter((r) => r.status === 'skip')).toEqual([])
  })
})

describe('the conformance kit on third-party plugins', () => {
  const root = mkdtempSync(join(tmpdir(), 'ws-plugin-check-'))
  const nodeModules = join(root, 'node_modules')
  let good: PluginReport
  let bad: PluginReport

  /** A model-less agent, as a plain object (no import), whose prompt is a bash script on stdin. */
  const agent = (name: string, extra: string) =>
    `export default { apiVersion: 'v1', kind: 'agent', name: '${name}', version: '1.0.0', description: 'sums', ${extra}\n` +
    `  parse: (r) => ({ text: r.stdout.trim(), raw: r.stdout }) }\n`

  beforeAll(async () => {
    // An installed package that passes: its prompt goes through stdin, so no argv limit applies.
    const pkg = join(nodeModules, '@acme', 'workers-spawner-plugin-summer')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: '@acme/workers-spawner-plugin-summer',
        version: '0.3.0',
        type: 'module',
      }),
    )
    writeFileSync(
      join(pkg, 'index.js'),
      agent(
        'summer',
        `env: (ctx) => ({ SUMMER_MODE: ctx.hostEnv.SUMMER_MODE ?? 'plain' }),\n  prompt: (req) => ({ argv: ['/bin/bash'], stdin: req.prompt }),`,
      ),
    )
    writeFileSync(join(pkg, 'README.md'), '# summer\n\n`SUMMER_MODE` (spawner env): how it sums.\n')
    writeFileSync(
      join(pkg, 'plugin-check.json'),
      JSON.stringify({ model: false, prompt: 'echo $(({a} + {b})) # {filler}' }),
    )
    // A folder that fails two checks: its README forgets a setting and its prompt is one argv string.
    const folder = join(root, 'plugins', 'argvy')
    mkdirSync(folder, { recursive: true })
    writeFileSync(
      join(folder, 'index.js'),
      agent(
        'argvy',
        `env: (ctx) => ({ X: ctx.configEnv.ARGVY_LEVEL ?? '1' }),\n  prompt: (req) => ({ argv: ['/bin/bash', '-c', req.prompt] }),`,
      ),
    )
    writeFileSync(join(folder, 'README.md'), '# argvy\n')
    writeFileSync(
      join(folder, 'plugin-check.json'),
      JSON.stringify({ model: false, prompt: 'echo $(({a} + {b})) # {filler}' }),
    )
    const reports = await checkPlugins(['@acme/workers-spawner-plugin-summer', folder], {
      image: WORKER_IMAGE,
      nodeModules,
      pluginsDir: PLUGINS_DIR,
    })
    good = reports[0]!
    bad = reports[1]!
  }, 600_000)
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  const statuses = (r: PluginReport) => Object.fromEntries(r.results.map((x) => [x.id, x.status]))

  it('passes a package named on the command line, with its plugin-check.json', () => {
    expect(good.plugin, formatReport(good)).toBe('summer')
    expect(statuses(good), formatReport(good)).toEqual({
      schema: 'pass',
      readme: 'pass',
      image: 'pass',
      worker: 'pass',
      answer: 'pass',
      session: 'n/a',
      usage: 'n/a',
      'long-prompt': 'pass',
      'failing-endpoint': 'n/a',
    })
    expect(good.ok).toBe(true)
  })

  it('fails a plugin whose README misses a setting and whose long prompt hits the argv limit', () => {
    expect(statuses(bad), formatReport(bad)).toMatchObject({
      schema: 'pass',
      readme: 'fail',
      answer: 'pass',
      'long-prompt': 'fail',
    })
    expect(bad.results.find((r) => r.id === 'readme')?.detail).toBe('does not name ARGVY_LEVEL')
    expect(bad.results.find((r) => r.id === 'long-prompt')?.detail).toContain(
      'argument list too long',
    )
    expect(bad.ok).toBe(false)
  })
  it('npm run plugin:check prints the table and exits 0 when all pass, 1 when one fails', async () => {
    // Under tsx, as an author runs it: this package imports the contract by its public name.
    const pkg = join(nodeModules, 'workers-spawner-plugin-upper')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'workers-spawner-plugin-upper', version: '1.0.0', type: 'module' }),
    )
    writeFileSync(
      join(pkg, 'index.js'),
      `import { defineAgent } from 'workers-spawner/plugin'\n` +
        `export default defineAgent({ apiVersion: 'v1', name: 'upper', version: '1.0.0', description: 'sums',\n` +
        `  prompt: (req) => ({ argv: ['/bin/bash'], stdin: req.prompt }), parse: (r) => ({ text: r.stdout.trim(), raw: r.stdout }) })\n`,
    )
    writeFileSync(join(pkg, 'README.md'), '# upper\n')
    writeFileSync(
      join(pkg, 'plugin-check.json'),
      JSON.stringify({ model: false, prompt: 'echo $(({a} + {b})) # {filler}' }),
    )
    const cli = (arg: string) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            fileURLToPath(new URL('../scripts/plugin-check.ts', import.meta.url)),
            '--',
            arg,
          ],
          {
            env: { ...process.env, WORKER_IMAGE, PLUGIN_NODE_MODULES: nodeModules },
            timeout: 300_000,
          },
          (err, stdout) =>
            resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout }),
        )
      })
    const ok = await cli('workers-spawner-plugin-upper')
    expect(ok.stdout).toMatch(/upper \(agent\): PASS/)
    expect(ok.stdout).toMatch(/prompt over 128 KiB \(argv limit\) +pass/)
    expect(ok.code, ok.stdout).toBe(0)
    const failed = await cli(join(root, 'plugins', 'argvy'))
    expect(failed.stdout).toMatch(/README names its settings +FAIL .*does not name ARGVY_LEVEL/)
    expect(failed.code, failed.stdout).toBe(1)
  }, 600_000)
})
