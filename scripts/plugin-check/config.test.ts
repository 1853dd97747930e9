import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_PROMPT,
  FILLER_BYTES,
  longFiller,
  promptFor,
  readCheckConfig,
  workerEnv,
} from './config.ts'

describe('check config', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ws-check-config-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("reads plugin-check.json, else the bundled plugin's settings, else the defaults", () => {
    expect(readCheckConfig(dir, 'codex', true)).toMatchObject({
      source: 'bundled',
      config: { model: true },
    })
    expect(readCheckConfig(dir, 'codex', false)).toMatchObject({
      source: 'none',
      config: { env: {}, prompt: DEFAULT_PROMPT },
    })
    writeFileSync(
      join(dir, 'plugin-check.json'),
      JSON.stringify({ env: { X_URL: '{stub}/v1' }, model: false }),
    )
    const { config, source } = readCheckConfig(dir, 'codex', true)
    expect(source).toBe('plugin-check.json')
    expect(workerEnv(config, 'http://host.docker.internal:4000')).toEqual({
      X_URL: 'http://host.docker.internal:4000/v1',
    })
  })

  it('refuses a plugin-check.json that is not JSON or names unknown fields, saying where', () => {
    writeFileSync(join(dir, 'plugin-check.json'), '{')
    expect(() => readCheckConfig(dir, 'x', false)).toThrow(/plugin-check.json is not JSON/)
    writeFileSync(
      join(dir, 'plugin-check.json'),
      JSON.stringify({ envs: {}, prompt: 'no placeholders' }),
    )
    expect(() => readCheckConfig(dir, 'x', false)).toThrow(/plugin-check.json: .*prompt/)
  })

  it('makes prompts, the long one over the argv limit on one line', () => {
    const config = readCheckConfig(dir, 'shell', true).config
    expect(promptFor(config, 5, 7)).toBe('echo $((5 + 7)) # ')
    const filler = longFiller()
    expect(filler.length).toBeGreaterThan(FILLER_BYTES)
    expect(filler.trimEnd()).not.toContain('\n')
    expect(
      promptFor(readCheckConfig(dir, 'x', false).config, 20, 22, filler).endsWith(
        '\n\nWhat is 20 + 22?',
      ),
    ).toBe(true)
  })
})
