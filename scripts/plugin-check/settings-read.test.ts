import { describe, expect, it } from 'vitest'
import {
  defineAgent,
  defineCapability,
  pluginSchema,
  type Plugin,
} from '../../src/core/plugin/contract.ts'
import { settingsOf, unnamedIn } from './settings-read.ts'

const parsed = (p: unknown) => pluginSchema.parse(p) as Plugin

describe('settingsOf', () => {
  it('finds secrets, host-file directories and every variable the hooks read, behind validations too', () => {
    const plugin = parsed(
      defineAgent({
        apiVersion: 'v1',
        name: 'my-cli',
        version: '1.0.0',
        description: 'd',
        secrets: [{ name: 'MY_CLI_KEY' }],
        hostFiles: [
          { fromEnv: 'HOST_MY_CLI_DIR', file: 'login.json', target: '~/.my-cli/login.json' },
        ],
        env: (ctx) => ({
          MY_CLI_RETRIES: ctx.hostEnv.MY_CLI_RETRIES ?? '0',
          HOME_COPY: ctx.hostEnv.HOME ?? '',
        }),
        files: (ctx) => {
          const mode = ctx.configEnv.MY_CLI_MODE ?? 'fast'
          // A made-up value is refused; what follows is read once the kit leaves it unset.
          if (!['fast', 'slow'].includes(mode)) throw new Error('MY_CLI_MODE must be fast or slow')
          const url = ctx.configEnv.MY_CLI_BASE_URL
          if (url) new URL(url)
          const files: Record<string, string> = {}
          if (url)
            files['~/.my-cli/config.json'] = JSON.stringify({
              url,
              model: ctx.configEnv.MY_CLI_MODEL,
            })
          return files
        },
        prompt: (req) => ({
          argv: [
            'my-cli',
            ...(req.sessionId && 'MY_CLI_RESUME_FLAG' in req.env ? ['--resume'] : []),
            req.prompt,
          ],
        }),
        parse: (r) => ({ text: r.stdout, raw: r.stdout }),
      }),
    )
    expect(settingsOf(plugin)).toEqual([
      'HOST_MY_CLI_DIR',
      'MY_CLI_BASE_URL',
      'MY_CLI_KEY',
      'MY_CLI_MODE',
      'MY_CLI_MODEL',
      'MY_CLI_RESUME_FLAG',
      'MY_CLI_RETRIES',
    ])
  })

  it('finds nothing in a plugin that reads nothing', () => {
    const plugin = parsed(
      defineCapability({
        apiVersion: 'v1',
        name: 'jq',
        version: '1',
        description: 'd',
        install: [{ apt: ['jq'] }],
      }),
    )
    expect(settingsOf(plugin)).toEqual([])
  })
})

describe('unnamedIn', () => {
  it('wants each name as a whole word', () => {
    const readme = '| `MY_CLI_KEY` | the key |\nSet MY_CLI_MODEL_NAME for the model name.'
    expect(unnamedIn(readme, ['MY_CLI_KEY', 'MY_CLI_MODEL', 'MY_CLI_MODEL_NAME'])).toEqual([
      'MY_CLI_MODEL',
    ])
  })
})
