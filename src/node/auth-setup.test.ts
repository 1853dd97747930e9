import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tokenSecret } from './auth-setup.ts'

describe('tokenSecret', () => {
  const dirs: string[] = []
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-key-'))
    dirs.push(dir)
    return join(dir, 'state')
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('takes SPAWNER_TOKEN_SECRET as it is', () => {
    expect(tokenSecret({ SPAWNER_TOKEN_SECRET: 'k'.repeat(40) }, fresh())).toBe('k'.repeat(40))
  })

  it('is a random key kept in a 0600 file, never derived from the API token', () => {
    const dir = fresh()
    const env = { SPAWNER_API_TOKEN: 'api-token-0123456789', SPAWNER_TOKEN_SECRET: undefined }
    const key = tokenSecret(env, dir)
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(readFileSync(join(dir, 'token-secret'), 'utf8')).toBe(key)
    expect(statSync(join(dir, 'token-secret')).mode & 0o777).toBe(0o600)
    // Another directory, same API token: another key, so the key says nothing about the token.
    expect(tokenSecret(env, fresh())).not.toBe(key)
    expect(tokenSecret(env, dir)).toBe(key)
  })

  it('gives every process the same key when they race to create it', async () => {
    const dir = fresh()
    const module = fileURLToPath(new URL('./auth-setup.ts', import.meta.url))
    const script = `import { tokenSecret } from ${JSON.stringify(module)}; process.stdout.write(tokenSecret({}, ${JSON.stringify(dir)}))`
    const run = () =>
      new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        )
      })
    const keys = await Promise.all(Array.from({ length: 8 }, run))
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toBe(readFileSync(join(dir, 'token-secret'), 'utf8'))
  }, 120_000)
})
