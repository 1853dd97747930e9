import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { describeIssues } from '../../src/core/validation.ts'

/** The question every model check asks; the stub model answers the last one it sees with the sum. */
export const DEFAULT_PROMPT = '{filler}What is {a} + {b}?'

/**
 * How the kit drives an agent plugin against the stub model: `plugin-check.json` beside the
 * plugin's `index.ts` (or in its package). The stub speaks the Anthropic Messages, OpenAI chat
 * completions, OpenAI Responses and Gemini APIs at one base URL.
 */
export const checkConfigSchema = z
  .object({
    /**
     * WorkerConfig env for the check's workers; `{stub}` becomes the stub model's base URL as a
     * worker sees it (e.g. `{ "MY_CLI_BASE_URL": "{stub}/v1", "MY_CLI_API_KEY": "stub-key" }`).
     */
    env: z.record(z.string(), z.string()).default({}),
    /** Capabilities the workers get besides the plugin's own `requires`. */
    capabilities: z.array(z.string()).default([]),
    /**
     * `false` for an agent that calls no model (like `shell`): sessions, usage and a failing
     * endpoint do not apply to it.
     */
    model: z.boolean().default(true),
    /**
     * The prompt of the answer checks: `{a}` and `{b}` are the numbers to add, `{filler}` is empty
     * or, in the long-prompt check, 160 KiB of filler on one line followed by a blank line.
     */
    prompt: z.string().includes('{a}').includes('{b}').includes('{filler}').default(DEFAULT_PROMPT),
    /** Longest a prompt may take before the check fails (the first run of a CLI is the slowest). */
    timeoutMs: z.number().int().positive().max(900_000).default(180_000),
  })
  .strict()
export type CheckConfig = z.output<typeof checkConfigSchema>

/** Where a check config came from, for the report. */
export type ConfigSource = 'plugin-check.json' | 'bundled' | 'none'

/**
 * How the kit points the bundled plugins at the stub: the same settings their end-to-end tests
 * use, minus anything that only makes a test faster, so the kit sees each plugin's defaults.
 */
export const BUNDLED: Record<string, z.input<typeof checkConfigSchema>> = {
  shell: { model: false, prompt: 'echo $(({a} + {b})) # {filler}' },
  'claude-code': { env: { ANTHROPIC_BASE_URL: '{stub}', ANTHROPIC_API_KEY: 'stub-key' } },
  codex: { env: { OPENAI_BASE_URL: '{stub}/v1', OPENAI_API_KEY: 'stub-key' } },
  'factory-droid': {
    env: {
      FACTORY_MODEL_BASE_URL: '{stub}/v1',
      FACTORY_MODEL: 'stub-model',
      FACTORY_MODEL_NAME: 'Stub Model',
      FACTORY_MODEL_API_KEY: 'stub-key',
    },
  },
  'gemini-cli': { env: { GOOGLE_GEMINI_BASE_URL: '{stub}', GEMINI_API_KEY: 'stub-key' } },
  opencode: {
    env: {
      OPENCODE_PROVIDER_BASE_URL: '{stub}/v1',
      OPENCODE_MODEL: 'stub-model',
      OPENCODE_PROVIDER_API_KEY: 'stub-key',
    },
  },
}
// The same CLI over ACP: the same settings.
BUNDLED['opencode-acp'] = BUNDLED.opencode!

/**
 * The plugin's `plugin-check.json`, else the bundled settings when `bundled` is true (the target
 * is the project's own plugin folder), else the defaults. Throws on a malformed file.
 */
export const readCheckConfig = (
  dir: string,
  name: string,
  bundled: boolean,
): { config: CheckConfig; source: ConfigSource } => {
  const file = join(dir, 'plugin-check.json')
  if (existsSync(file)) {
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new Error(`plugin-check.json is not JSON: ${(err as Error).message}`)
    }
    const parsed = checkConfigSchema.safeParse(raw)
    if (!parsed.success) {
      const issues = describeIssues(parsed.error)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')
      throw new Error(`plugin-check.json: ${issues}`)
    }
    return { config: parsed.data, source: 'plugin-check.json' }
  }
  const known = bundled ? BUNDLED[name] : undefined
  return { config: checkConfigSchema.parse(known ?? {}), source: known ? 'bundled' : 'none' }
}

/** The config's env with `{stub}` replaced by the stub's base URL. */
export const workerEnv = (config: CheckConfig, stub: string): Record<string, string> =>
  Object.fromEntries(Object.entries(config.env).map(([k, v]) => [k, v.replaceAll('{stub}', stub)]))

/** The check prompt for `a + b`, with or without the long filler. */
export const promptFor = (config: CheckConfig, a: number, b: number, filler = ''): string =>
  config.prompt
    .replaceAll('{a}', String(a))
    .replaceAll('{b}', String(b))
    .replaceAll('{filler}', filler)

/** Bytes of filler in the long-prompt check: over Linux's 128 KiB limit for one argv string. */
export const FILLER_BYTES = 160 * 1024

/** One line of filler words (no newline inside, so a shell comment holds it), then a blank line. */
export const longFiller = (): string => {
  const words = 'filler text to read past; '
  return `${words.repeat(Math.ceil(FILLER_BYTES / words.length))}\n\n`
}
