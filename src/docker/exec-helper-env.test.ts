import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { cleanCommand, HELPER_PATH, helperExecEnv } from './exec-helper-env.ts'

describe('helperExecEnv', () => {
  it('fixes PATH and empties every other name the container sets', () => {
    const env = helperExecEnv([
      'PATH=/home/worker/.local/bin:/usr/bin',
      'LD_PRELOAD=/home/worker/evil.so',
      'LD_LIBRARY_PATH=/home/worker/lib',
      'BASH_ENV=/home/worker/rc',
      'IFS=x',
      'BASH_FUNC_stat%%=() { id; }',
      'NO_VALUE',
    ])
    expect(env).toEqual({
      PATH: HELPER_PATH,
      LC_ALL: 'C',
      LD_PRELOAD: '',
      LD_LIBRARY_PATH: '',
      BASH_ENV: '',
      IFS: '',
      'BASH_FUNC_stat%%': '',
      NO_VALUE: '',
    })
  })

  it('refuses a loader variable that acts even when empty, or one it does not know', () => {
    for (const name of ['LD_TRACE_LOADED_OBJECTS', 'LD_SHOW_AUXV', 'LD_SOMETHING_NEW']) {
      expect(() => helperExecEnv([`${name}=1`]), name).toThrow(
        expect.objectContaining({ code: 'helper_env_unsafe', kind: 'conflict' }),
      )
    }
  })
})

describe('cleanCommand', () => {
  it('runs the command with the fixed environment and nothing else', () => {
    const argv = cleanCommand(['/bin/sh', '-c', 'echo "$PATH|$LC_ALL|$X|${HOME-unset}"'], {
      X: 'y',
    })
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/env', '-i'])
    const r = spawnSync(argv[0]!, argv.slice(1), { env: { HOME: '/root', X: 'leak' } })
    expect(r.stdout.toString()).toBe(`${HELPER_PATH}|C|y|unset\n`)
  })
})
