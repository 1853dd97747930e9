import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { agentPrompt, createContext } from 'workers-spawner/plugin'
import gemini from './index.ts'
import { GUARD, permissions, ROOT_PRELOAD, SYSTEM_SETTINGS } from './permissions.ts'

const ctx = {
  ...createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv: {},
    configEnv: {},
    agent: 'gemini-cli',
    capabilities: [],
  }),
  timeoutMs: 60_000,
  permitCommand: (format: string) => `permit --format ${format}`,
}
const setup = permissions(ctx)
const guard = setup.files[GUARD] as string

/** Runs the guard in a home and workdir of its own; its exit code and stderr. */
const runGuard = (home: Record<string, string>, work: Record<string, string> = {}) => {
  const root = mkdtempSync(join(tmpdir(), 'gemini-guard-'))
  for (const [dir, files] of [
    ['home', home],
    ['work', work],
  ] as const) {
    mkdirSync(join(root, dir, '.gemini'), { recursive: true })
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, dir, name), text)
  }
  try {
    execFileSync(process.execPath, ['-e', guard], {
      cwd: join(root, 'work'),
      env: { HOME: join(root, 'home'), PATH: process.env.PATH },
      stdio: 'pipe',
    })
    return { code: 0, stderr: '' }
  } catch (err) {
    const e = err as { status: number; stderr: Buffer }
    return { code: e.status, stderr: e.stderr.toString() }
  }
}

describe('gemini-cli permissions', () => {
  it('asks through a BeforeTool hook in the system settings, run by every tool call', () => {
    expect(setup.files[SYSTEM_SETTINGS]).toEqual({
      hooksConfig: { enabled: true },
      hooks: {
        BeforeTool: [
          {
            matcher: '.*',
            hooks: [
              {
                type: 'command',
                name: 'orchestrator-permit',
                command: 'permit --format exit-code || exit 2',
                timeout: 60_000 + 660_000,
              },
            ],
          },
        ],
      },
    })
  })

  it('runs the CLI after the guard, with the root-owned preload, when the worker asks', () => {
    const req = { prompt: 'hi', workdir: '/workspace', env: {}, stream: false }
    const asked = agentPrompt(gemini, { ...req, permissions: 'ask' })
    expect(asked.argv.slice(0, 5)).toEqual([
      '/bin/sh',
      '-c',
      `node ${GUARD} && exec "$@"`,
      'gemini',
      'gemini',
    ])
    expect(asked.env).toEqual({ NODE_OPTIONS: `--require=${ROOT_PRELOAD}` })
    expect(agentPrompt(gemini, { ...req, permissions: 'skip' }).argv[0]).toBe('gemini')
  })

  it("the guard refuses settings of the worker's that name hooksConfig, or are not plain JSON", () => {
    const plain = JSON.stringify({ model: { name: 'gemini-2.5-pro' } })
    expect(runGuard({ '.gemini/settings.json': plain }).code).toBe(0)
    expect(runGuard({}).code).toBe(0)
    const off = JSON.stringify({ hooksConfig: { disabled: ['orchestrator-permit'] } })
    const user = runGuard({ '.gemini/settings.json': off })
    expect(user.code).toBe(3)
    expect(user.stderr).toMatch(/settings\.json sets hooksConfig/)
    expect(runGuard({}, { '.gemini/settings.json': off }).code).toBe(3)
    // Escaped, as JSON allows: still the same key once parsed.
    expect(runGuard({ '.gemini/settings.json': '{"hooks\\u0043onfig": {}}' }).code).toBe(3)
    expect(runGuard({ '.gemini/settings.json': '// a comment\n{}' }).stderr).toMatch(/plain JSON/)
  })
})
