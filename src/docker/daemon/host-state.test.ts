import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PayloadTooLargeError } from '../../core/errors.ts'
import { HostStateFiles } from './host-state.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const files = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-hsf-'))
  dirs.push(dir)
  return { dir, states: new HostStateFiles((name) => join(dir, name)) }
}
const bytes = (s: string) => new TextEncoder().encode(s)

describe('the state files beside the daemon directories', () => {
  it('writes 0600 beside the directory, replaces whole, and leaves no temporary file', async () => {
    const { dir, states } = files()
    expect(await states.get('c1', 100)).toBeUndefined()
    await states.put('c1', bytes('one'))
    await states.put('c1', bytes('two'))
    expect(new TextDecoder().decode(await states.get('c1', 100))).toBe('two')
    expect(statSync(join(dir, 'c1.state')).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['c1.state'])
    await states.remove('c1')
    await states.remove('c1')
    expect(readdirSync(dir)).toEqual([])
  })

  it('reads no more than the cap, and follows no link', async () => {
    const { dir, states } = files()
    await states.put('c1', bytes('x'.repeat(10)))
    expect((await states.get('c1', 10))?.length).toBe(10)
    await expect(states.get('c1', 9)).rejects.toThrow(PayloadTooLargeError)
    writeFileSync(join(dir, 'elsewhere'), 'secret')
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'c2.state'))
    await expect(states.get('c2', 100)).rejects.toMatchObject({ code: 'ELOOP' })
  })
})
