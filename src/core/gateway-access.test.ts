import { describe, expect, it, vi } from 'vitest'
import {
  gatewayService,
  modeledAgent,
  REAL_KEY,
  TOKENS_URL,
} from '../../test/support/gateway-service.ts'
import { registryOf, shellAgent } from '../../test/support/memory-service.ts'
import { WorkerKeys } from './gateway-access.ts'
import { WarmPools } from './pool.ts'

const SECRET = 'gateway credential test secret, long enough'
const ID = 'w-0123456789abcdef'

describe('worker credentials', () => {
  it('verify to the worker id they were minted for', async () => {
    const keys = new WorkerKeys(SECRET)
    const credential = await keys.mint(ID)
    expect(credential).toMatch(/^wsk_w-0123456789abcdef_[0-9a-f]{64}$/)
    expect(await keys.verify(credential)).toBe(ID)
    expect(await keys.verify(` ${credential}\n`)).toBe(ID)
  })

  it('are refused when minted with another secret, tampered with, or junk', async () => {
    const keys = new WorkerKeys(SECRET)
    const credential = await keys.mint(ID)
    const tag = credential.slice(-64)
    const flip = (c: string) => (c === '0' ? '1' : '0')
    expect(await keys.verify(await new WorkerKeys(`${SECRET}!`).mint(ID))).toBeUndefined()
    // Another worker's id with this worker's tag.
    expect(await keys.verify(`wsk_w-0123456789abcdee_${tag}`)).toBeUndefined()
    expect(await keys.verify(credential.slice(0, -1) + flip(credential.at(-1)!))).toBeUndefined()
    expect(await keys.verify(credential.slice(0, -2))).toBeUndefined()
    for (const junk of ['', 'wsk_', REAL_KEY, `Bearer ${credential}`, tag, `${credential}x`])
      expect(await keys.verify(junk)).toBeUndefined()
  })
})

describe('the real model key', () => {
  it('never reaches a worker: its env has its credential and the gateway URL', async () => {
    const { create, specOf, filesOf, credentialOf } = gatewayService()
    const { workerId } = await create({ agent: 'modeled' })
    const spec = await specOf(workerId)
    const files = await filesOf(workerId)
    expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
    expect(files.map(([path]) => path)).toContain('/home/worker/.modeled/config.json')
    for (const [, text] of files) expect(text).not.toContain(REAL_KEY)
    const credential = await credentialOf(workerId)
    expect(spec.env.K2).toBe(credential)
    expect(spec.env.K1).toBeUndefined()
    expect(spec.env.B).toBe('http://127.0.0.1:3128/model/modeled')
    // What plugins are shown is what the worker gets: the credential and the gateway's URL.
    const config = JSON.parse(files.find(([p]) => p.endsWith('config.json'))![1])
    expect(config).toMatchObject({ key: credential, url: 'http://127.0.0.1:3128/model/modeled' })
    expect(config.all).toMatchObject({ OTHER: 'kept', K2: credential })
  })

  it('is replaced by the worker API URL on the open network', async () => {
    const { create, specOf } = gatewayService()
    const { workerId } = await create({ agent: 'modeled', network: 'all' })
    const spec = await specOf(workerId)
    expect(spec.env.B).toBe(`${TOKENS_URL}/model/modeled`)
    expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
  })

  it('is not given to a worker that brings its own endpoint or key', async () => {
    const { create, specOf, filesOf } = gatewayService()
    const own = await create({ agent: 'modeled', env: { B: 'https://mine.example' } })
    const ownKey = await create({ agent: 'modeled', env: { K1: 'my-own-key' } })
    for (const { workerId } of [own, ownKey]) {
      const spec = await specOf(workerId)
      expect(spec.env.K2).toBeUndefined()
      expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
      for (const [, text] of await filesOf(workerId)) expect(text).not.toContain(REAL_KEY)
    }
    expect((await specOf(own.workerId)).env.B).toBe('https://mine.example')
    expect((await specOf(ownKey.workerId)).env.K1).toBe('my-own-key')
  })

  it('never reaches the hook files of a worker that asks: they see what its other files see', async () => {
    const permissions = (ctx: { setting: (n: string) => string | undefined; hostEnv: object }) => ({
      files: { '/etc/modeled/hook.json': { key: ctx.setting('K2'), url: ctx.setting('B') } },
      env: { HOOK_SEES: JSON.stringify(ctx.hostEnv) },
    })
    const registry = registryOf(shellAgent, modeledAgent({ permissions }))
    const { create, specOf, filesOf, credentialOf } = gatewayService({ plugins: () => registry })
    const { workerId } = await create({ agent: 'modeled', permissions: 'ask' })
    const spec = await specOf(workerId)
    const files = await filesOf(workerId)
    expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
    for (const [, text] of files) expect(text).not.toContain(REAL_KEY)
    const hook = JSON.parse(files.find(([p]) => p === '/etc/modeled/hook.json')![1])
    expect(hook).toEqual({
      key: await credentialOf(workerId),
      url: 'http://127.0.0.1:3128/model/modeled',
    })
  })

  it('is withheld from a plugin that also declares it as a secret', async () => {
    const registry = registryOf(shellAgent, modeledAgent({ secrets: [{ name: 'K2' }] }))
    const { create, specOf, credentialOf } = gatewayService({ plugins: () => registry })
    const { workerId } = await create({ agent: 'modeled' })
    const spec = await specOf(workerId)
    expect(spec.env.K2).toBe(await credentialOf(workerId))
    expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
    const optedOut = await create({ agent: 'modeled', env: { B: 'https://mine.example' } })
    expect((await specOf(optedOut.workerId)).env.K2).toBeUndefined()
  })

  it('never reaches a warm pool container, nor the worker it becomes', async () => {
    const { service, create, runtime, specOf, filesOf } = gatewayService()
    const pools = new WarmPools(service, [
      { key: 'modeled', agent: 'modeled', capabilities: [], size: 1 },
    ])
    pools.start()
    await vi.waitFor(() => expect(pools.sizes().modeled).toBe(1))
    const pooled = service.records().find((r) => r.pool)!.workerId
    const { workerId } = await create({ agent: 'modeled' })
    pools.close()
    expect(workerId).toBe(pooled)
    expect(JSON.stringify(await specOf(workerId))).not.toContain(REAL_KEY)
    expect((await filesOf(workerId)).length).toBeGreaterThan(0)
    for (const [, text] of await filesOf(workerId)) expect(text).not.toContain(REAL_KEY)
    for (const spec of runtime.specs.values()) expect(JSON.stringify(spec)).not.toContain(REAL_KEY)
  })
})
