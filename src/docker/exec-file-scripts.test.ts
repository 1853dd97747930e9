import { spawnSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FILE_EXIT, getFileCommand, putFileCommand } from './exec-file-scripts.ts'

// The scripts run here with this machine's sh and GNU coreutils, as they do in the image.
const base = mkdtempSync(join(tmpdir(), 'ws-file-scripts-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))

const sh = (argv: string[], input = '') => {
  const [cmd, ...args] = argv
  const r = spawnSync(cmd!, args, { input })
  return { code: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString() }
}

const dir = (name: string) => {
  const path = join(base, name)
  mkdirSync(path, { recursive: true })
  return path
}

describe('putFileCommand', () => {
  it('writes stdin with the mode, making missing directories', () => {
    const root = dir('put')
    const r = sh(putFileCommand(`${root}/a/b/f.bin`, 0o600, [root]), 'bytes')
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(readFileSync(`${root}/a/b/f.bin`, 'utf8')).toBe('bytes')
    expect(statSync(`${root}/a/b/f.bin`).mode & 0o777).toBe(0o600)
  })

  it('follows a link that stays inside the roots, and refuses one that leaves them', () => {
    const root = dir('links/root')
    const outside = dir('links/outside')
    mkdirSync(`${root}/real`)
    symlinkSync(`${root}/real`, `${root}/in`)
    symlinkSync(outside, `${root}/out`)
    expect(sh(putFileCommand(`${root}/in/f`, 0o644, [root]), 'in').code).toBe(0)
    expect(readFileSync(`${root}/real/f`, 'utf8')).toBe('in')
    const out = sh(putFileCommand(`${root}/out/f`, 0o644, [root]), 'out')
    expect(out.code).toBe(FILE_EXIT.notAllowed)
    expect(() => statSync(`${outside}/f`)).toThrow()
    // Without roots only the user's permissions decide.
    expect(sh(putFileCommand(`${root}/out/f`, 0o644, undefined), 'out').code).toBe(0)
  })

  it('does not take a sibling with the same prefix for the root', () => {
    const root = dir('prefix/a')
    dir('prefix/ab')
    const r = sh(putFileCommand(`${root}b/f`, 0o644, [root]), 'x')
    expect(r.code).toBe(FILE_EXIT.notAllowed)
  })

  it('resolves the roots too, and refuses a directory as the target', () => {
    const real = dir('rootlink/real')
    symlinkSync(real, join(base, 'rootlink/alias'))
    const alias = join(base, 'rootlink/alias')
    expect(sh(putFileCommand(`${real}/f`, 0o644, [alias]), 'x').code).toBe(0)
    expect(sh(putFileCommand(real, 0o644, [base]), 'x').code).toBe(FILE_EXIT.directory)
  })

  it('keeps odd names whole', () => {
    const root = dir('odd')
    const name = `${root}/-x y\n\n`
    expect(sh(putFileCommand(name, 0o644, [root]), 'odd').code).toBe(0)
    expect(readFileSync(name, 'utf8')).toBe('odd')
  })
})

describe('getFileCommand', () => {
  const root = dir('get')
  writeFileSync(`${root}/f`, 'abcdef')

  it('prints the file, or max + 1 bytes of it under a cap', () => {
    const whole = sh(getFileCommand(`${root}/f`, undefined, [root]))
    expect(whole).toMatchObject({ code: 0, stdout: 'abcdef' })
    expect(sh(getFileCommand(`${root}/f`, 6, [root])).stdout).toBe('abcdef')
    expect(sh(getFileCommand(`${root}/f`, 5, [root])).code).toBe(FILE_EXIT.tooLarge)
  })

  it('tells missing, directory, non-file and outside apart', () => {
    spawnSync('mkfifo', [`${root}/fifo`])
    writeFileSync(join(base, 'secret'), 'secret')
    symlinkSync(join(base, 'secret'), `${root}/out`)
    expect(sh(getFileCommand(`${root}/nope`, undefined, [root])).code).toBe(FILE_EXIT.notFound)
    expect(sh(getFileCommand(root, undefined, [base])).code).toBe(FILE_EXIT.directory)
    const fifo = sh(getFileCommand(`${root}/fifo`, undefined, [root]))
    expect(fifo.code).toBe(FILE_EXIT.notRegular)
    expect(sh(getFileCommand(`${root}/out`, undefined, [root])).code).toBe(FILE_EXIT.notAllowed)
    expect(sh(getFileCommand(`${root}/out/../f`, undefined, [root])).code).toBe(
      FILE_EXIT.notAllowed,
    )
  })
})
