import { describe, expect, it } from 'vitest'
import { parseEnv, readSettings } from './settings.ts'
import { redisSettingsSchema } from './redis/settings.ts'
import { readHostAgentSettings } from './host-agent/settings.ts'

describe('ALLOWED_HOSTS', () => {
  it('is a comma-separated list of host names, empty by default', () => {
    expect(readSettings({}).ALLOWED_HOSTS).toEqual([])
    expect(
      readSettings({ ALLOWED_HOSTS: ' spawner.lan, 10.0.0.5 ,[fd00::1],' }).ALLOWED_HOSTS,
    ).toEqual(['spawner.lan', '10.0.0.5', '[fd00::1]'])
  })

  it.each(['http://spawner.lan', 'spawner.lan:8080', 'fd00::1', 'a b'])(
    'refuses %s, naming the variable',
    (value) => {
      expect(() => readSettings({ ALLOWED_HOSTS: value })).toThrow(/ALLOWED_HOSTS: host names only/)
    },
  )
})

describe('stream and log limits', () => {
  it('bounds streams and worker logs by default', () => {
    expect(readSettings({})).toMatchObject({
      MAX_SSE_STREAMS: 100,
      MAX_SSE_QUEUED_BYTES: 4 * 1024 * 1024,
      TERMINAL_IDLE_SECONDS: 900,
      TERMINAL_MAX_PER_WORKER: 8,
      TERMINAL_MAX: 64,
      WORKER_LOG_MAX_SIZE: '10m',
      WORKER_LOG_MAX_FILES: 3,
    })
  })

  it('names a log size Docker would not take', () => {
    expect(() => readSettings({ WORKER_LOG_MAX_SIZE: '10 MB' })).toThrow(/WORKER_LOG_MAX_SIZE/)
    expect(() => readSettings({ WORKER_LOG_MAX_FILES: '0' })).toThrow(/WORKER_LOG_MAX_FILES/)
    expect(readSettings({ WORKER_LOG_MAX_SIZE: '512k' }).WORKER_LOG_MAX_SIZE).toBe('512k')
  })
})

describe('one reader for every entry', () => {
  it('reads the Redis adapter settings the same way, Redis off without REDIS_URL', () => {
    expect(readSettings({}).REDIS_URL).toBeUndefined()
    expect(
      parseEnv(redisSettingsSchema, { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: '' }),
    ).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'cli-agent',
      REDIS_MAX_ATTEMPTS: 5,
    })
    expect(() =>
      parseEnv(redisSettingsSchema, { REDIS_URL: 'redis://x', REDIS_BLOCK_MS: 'soon' }),
    ).toThrow(/invalid environment: REDIS_BLOCK_MS/)
  })

  it('takes an empty variable as unset, for the host agent too', () => {
    expect(readSettings({ PORT: '' }).PORT).toBe(8080)
    expect(readHostAgentSettings({ HOST_AGENT_PORT: '' }).HOST_AGENT_PORT).toBe(8081)
    expect(() => readHostAgentSettings({ HOST_AGENT_PORT: 'x' })).toThrow(
      /invalid environment: HOST_AGENT_PORT/,
    )
  })
})

describe('worker daemons', () => {
  it('are on by default, in a directory of their own, for the host agent too', () => {
    expect(readSettings({})).toMatchObject({ WORKER_DAEMON: 'on' })
    expect(readSettings({}).WORKER_DAEMON_DIR).toBeUndefined()
    expect(readSettings({ WORKER_DAEMON: 'off', WORKER_DAEMON_DIR: '/d' })).toMatchObject({
      WORKER_DAEMON: 'off',
      WORKER_DAEMON_DIR: '/d',
    })
    expect(readHostAgentSettings({})).toMatchObject({ HOST_AGENT_WORKER_DAEMON: 'on' })
    expect(readHostAgentSettings({ HOST_AGENT_WORKER_DAEMON: 'off' })).toMatchObject({
      HOST_AGENT_WORKER_DAEMON: 'off',
    })
  })

  it('takes on or off only', () => {
    expect(() => readSettings({ WORKER_DAEMON: '1' })).toThrow(/WORKER_DAEMON/)
    expect(() => readHostAgentSettings({ HOST_AGENT_WORKER_DAEMON: 'yes' })).toThrow(
      /HOST_AGENT_WORKER_DAEMON/,
    )
  })
})
