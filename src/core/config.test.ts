import { describe, expect, it } from 'vitest'
import { workerConfigSchema } from './config.ts'
import { parseInput } from './validation.ts'
import { BadRequestError } from './errors.ts'

const parse = (raw: unknown) => parseInput(workerConfigSchema, raw, 'worker config')

describe('WorkerConfig', () => {
  it('fills the design defaults', () => {
    expect(parse({ agent: 'shell' })).toEqual({
      agent: 'shell',
      capabilities: [],
      env: {},
      files: {},
      workdir: '/workspace',
      ttlSeconds: 86_400,
      idleSeconds: 900,
      resources: { memoryMb: 2048, cpus: 1, pids: 1024 },
      allowedTools: [],
      maxChildren: 4,
      maxDepth: 1,
      spawnablePlugins: [],
      labels: {},
    })
  })

  it.each([
    [{ agent: 'shell', colour: 'red' }, /colour/],
    [{ agent: 'shell', ttlSeconds: 'long' }, /ttlSeconds/],
    [{ agent: 42 }, /agent/],
    [{}, /agent/],
    [{ agent: 'shell', capabilities: ['git', 'git'] }, /capabilities.*repeat/],
    [{ agent: 'shell', env: { 'BAD-NAME': 'x' } }, /env/],
    [{ agent: 'shell', workdir: 'relative' }, /workdir.*absolute/],
    [{ agent: 'shell', workdir: '/' }, /workdir.*must not be '\/'/],
    [{ agent: 'shell', workdir: '//' }, /workdir/],
    [{ agent: 'shell', files: { '../etc/passwd': 'x' } }, /files/],
    [{ agent: 'shell', labels: { 'workers-spawner.agent': 'x' } }, /labels/],
    [{ agent: 'shell', resources: { memoryMb: 1 } }, /resources.memoryMb/],
    // Found by the fuzz suite: the engine refused it with a 502.
    [{ agent: 'shell', resources: { cpus: 0.001 } }, /resources.cpus/],
    [{ agent: 'shell', network: 'host' }, /network/],
  ])('refuses %j naming the field', (raw, field) => {
    let error: unknown
    try {
      parse(raw)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(BadRequestError)
    expect((error as BadRequestError).kind).toBe('bad_request')
    expect((error as BadRequestError).message).toMatch(field)
    expect((error as BadRequestError).details).toBeInstanceOf(Array)
  })
})
