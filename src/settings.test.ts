import { describe, expect, it } from 'vitest'
import { readSettings } from './settings.ts'

describe('ALLOWED_HOSTS', () => {
  it('is a comma-separated list of host names, empty by default', () => {
    expect(readSettings({}).ALLOWED_HOSTS).toEqual([])
    expect(readSettings({ ALLOWED_HOSTS: ' spawner.lan, 10.0.0.5 ,[fd00::1],' }).ALLOWED_HOSTS).toEqual([
      'spawner.lan',
      '10.0.0.5',
      '[fd00::1]',
    ])
  })

  it.each(['http://spawner.lan', 'spawner.lan:8080', 'fd00::1', 'a b'])('refuses %s, naming the variable', (value) => {
    expect(() => readSettings({ ALLOWED_HOSTS: value })).toThrow(/ALLOWED_HOSTS: host names only/)
  })
})
