import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { TokenSigner } from './auth/jwt.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'
import { TOKEN_FILE } from './worker-tokens.ts'
import { STATE_FILE } from './worker-state.ts'

const agent = defineAgent({
  apiVersion: 'v1',
  name: 'echo',
  version: '1.0.0',
  description: 'test agent with a config file',
  files: () => ({ '~/.echo/config.json': '{}' }),
  prompt: (req) => ({ argv: ['echo', req.prompt] }),
  parse: (result) => ({ text: result.stdout, raw: {} }),
})

const setup = async () => {
  const runtime = new MemoryRuntime()
  runtime.images.set('base', 'sha256:base')
  const registry = PluginRegistry.fromModules([{ name: 'echo', module: { default: agent } }])
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'base',
    hostEnv: {},
    tokens: { signer: new TokenSigner('x'.repeat(32)), url: 'http://127.0.0.1:9' },
  })
  const config = service.parseConfig({ agent: 'echo', files: { 'TASK.md': '# task' } })
  const { workerId } = await service.create({ config })
  const [container] = await runtime.list({})
  const at = (path: string) => runtime.fileOptions.get(`${container!.id}:${path}`)
  return { runtime, service, workerId, at }
}

describe('files the service reads and writes in a worker', () => {
  const roots = ['/workspace', '/tmp', '/home/worker']

  it('writes plugin, config and token files as the worker user, inside the roots', async () => {
    const { at, service, workerId } = await setup()
    expect(at('/home/worker/.echo/config.json')).toEqual({ mode: 0o600, roots })
    expect(at('/workspace/TASK.md')).toEqual({ roots })
    // At create the token is in the env; the file comes with the first renewal.
    expect(at(TOKEN_FILE)).toBeUndefined()
    await service.update({ workerId, ttlSeconds: 600 })
    expect(at(TOKEN_FILE)).toEqual({ mode: 0o600, roots: ['/home/worker'] })
  })

  it('passes the roots for user file commands, and root only for the state file', async () => {
    const { service, workerId, at } = await setup()
    await service.putBytes(workerId, '/tmp/a', new Uint8Array([1]), 0o640)
    expect(at('/tmp/a')).toEqual({ mode: 0o640, roots })
    await service.getBytes(workerId, '/tmp/a')
    expect(at('/tmp/a')).toMatchObject({ roots })
    expect(at('/tmp/a')).not.toHaveProperty('uid')
    await service.update({ workerId, ttlSeconds: 60 })
    expect(at(STATE_FILE)).toMatchObject({ uid: 0, gid: 0 })
  })
})
