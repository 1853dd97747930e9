import { describe, expect, it, vi } from 'vitest'
import { gatewayService } from '../../test/support/gateway-service.ts'
import { refusal } from '../../test/support/memory-service.ts'
import type { Budget } from './config.ts'
import { workerConfigSchema } from './config.ts'
import type { ModelRoute } from './model-access.ts'
import { sendCommandInput, updateInput } from './schemas.ts'

/** A call of `input` + `output` tokens costing `usd`. */
const call = (input: number, output: number, usd = 0, priced = true) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  costUsd: usd,
  priced,
})

const setup = () => {
  const svc = gatewayService()
  const { service, credentialOf } = svc
  const create = (budget?: Budget) =>
    svc.create({ agent: 'modeled', ...(budget ? { budget } : {}) })
  const spawn = (parentId: string, budget?: Budget) =>
    service.create(
      { config: workerConfigSchema.parse({ agent: 'modeled', ...(budget ? { budget } : {}) }) },
      { caller: parentId },
      { parentId },
    )
  const route = async (workerId: string) =>
    service.models.route(await credentialOf(workerId), 'modeled')
  /** Records a call as the gateway does once it ends. */
  const spend = (workerId: string, c: ReturnType<typeof call>): void => {
    const r: ModelRoute = { workerId, plugin: 'modeled', upstream: 'https://x', key: undefined }
    service.models.record(r, { ...c, model: 'm-1' })
  }
  const budgetEvents = () => svc.events.filter((e) => e.type === 'budget')
  return { ...svc, create, spawn, route, spend, budgetEvents }
}

describe('model spend', () => {
  it('is summed per worker, published as usage and kept in the state file', async () => {
    const { service, create, spend, events, runtime, containerOf, keptState } = setup()
    const { workerId } = await create()
    spend(workerId, call(100, 20, 0.5))
    spend(workerId, call(10, 2, 0, false))
    const expected = {
      requests: 2,
      inputTokens: 110,
      outputTokens: 22,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      costUsd: 0.5,
      unpriced: 1,
    }
    expect((await service.status({ workerId })).spend).toEqual(expected)
    expect(events.filter((e) => e.type === 'usage')).toMatchObject([
      { workerId, plugin: 'modeled', model: 'm-1', inputTokens: 100, costUsd: 0.5 },
      { workerId, inputTokens: 10, spend: expected },
    ])
    const containerId = await containerOf(workerId)
    await vi.waitFor(() => expect(keptState(containerId)?.spend).toEqual(expected))
    // A restarted service knows it from the state file.
    const again = gatewayService({ runtime })
    expect((await again.service.status({ workerId })).spend).toEqual(expected)
  })
})

describe('a model budget', () => {
  it('refuses the gateway’s calls once its tokens are spent, and says so once', async () => {
    const { create, spend, route, budgetEvents } = setup()
    const { workerId } = await create({ tokens: 100 })
    spend(workerId, call(60, 39))
    await expect(route(workerId)).resolves.toMatchObject({ workerId, key: 'real-secret' })
    expect(budgetEvents()).toEqual([])
    spend(workerId, call(1, 0))
    expect(await refusal(route(workerId))).toMatchObject({
      code: 'budget_exceeded',
      message: expect.stringContaining('100 of 100 tokens'),
    })
    spend(workerId, call(5, 5))
    expect(budgetEvents()).toMatchObject([{ workerId, budget: { tokens: 100 } }])
    expect(budgetEvents()[0]).not.toHaveProperty('by')
  })

  it('refuses them once its dollars are spent', async () => {
    const { create, spend, route } = setup()
    const { workerId } = await create({ usd: 1 })
    spend(workerId, call(1, 1, 0.6))
    await route(workerId)
    spend(workerId, call(1, 1, 0.4))
    expect(await refusal(route(workerId))).toMatchObject({ code: 'budget_exceeded' })
  })

  it('counts a sub-worker’s calls against every budget above it', async () => {
    const { service, create, spawn, spend, route, budgetEvents } = setup()
    const parent = await create({ tokens: 100 })
    const first = await spawn(parent.workerId)
    expect((await service.status(first)).budget).toEqual({ tokens: 100 })
    spend(first.workerId, call(50, 10))
    // What the parent has left, no more.
    expect(await refusal(spawn(parent.workerId, { tokens: 41 }))).toMatchObject({
      code: 'not_wider_than_parent',
      details: [{ path: 'budget' }],
    })
    const second = await spawn(parent.workerId)
    expect((await service.status(second)).budget).toEqual({ tokens: 40 })
    spend(second.workerId, call(30, 10))
    expect((await service.status(parent)).treeSpend).toMatchObject({
      requests: 2,
      inputTokens: 80,
      outputTokens: 20,
    })
    expect((await service.status(parent)).spend.requests).toBe(0)
    // The first is within its own 100 tokens, but its parent's are spent.
    expect(await refusal(route(first.workerId))).toMatchObject({
      code: 'budget_exceeded',
      message: expect.stringContaining(`under '${parent.workerId}'`),
    })
    expect(budgetEvents()).toMatchObject([
      { workerId: second.workerId, budget: { tokens: 40 } },
      { workerId: parent.workerId, by: second.workerId, spend: { inputTokens: 80 } },
    ])
  })

  it('still counts the calls of sub-workers that are gone, across a restart', async () => {
    const { service, runtime, spawn, spend, route } = setup()
    const parent = await service.create({
      config: workerConfigSchema.parse({ agent: 'modeled', budget: { tokens: 100 }, maxDepth: 2 }),
    })
    const child = await spawn(parent.workerId)
    const grandchild = await spawn(child.workerId)
    spend(grandchild.workerId, call(30, 10))
    spend(child.workerId, call(20, 0))
    await service.delete(child)
    expect((await service.status(parent)).treeSpend).toMatchObject({
      requests: 2,
      inputTokens: 50,
      outputTokens: 10,
    })
    spend(parent.workerId, call(30, 10))
    expect(await refusal(route(parent.workerId))).toMatchObject({ code: 'budget_exceeded' })
    await vi.waitFor(async () => {
      const again = gatewayService({ runtime }).service
      expect((await again.status(parent)).treeSpend).toMatchObject({ requests: 3, inputTokens: 80 })
    })
  })

  it('is raised by an operator’s update, never by a worker', async () => {
    const { service, create, spawn, spend, route } = setup()
    const { workerId } = await create({ tokens: 10 })
    const child = await spawn(workerId)
    spend(workerId, call(10, 0))
    const raise = updateInput.parse({ workerId, budget: { tokens: 1000 } })
    for (const caller of [workerId, child.workerId])
      expect(await refusal(service.update(raise, { caller }))).toMatchObject({ kind: 'forbidden' })
    expect(await refusal(route(workerId))).toMatchObject({ code: 'budget_exceeded' })
    expect((await service.update(raise)).budget).toEqual({ tokens: 1000 })
    await expect(route(workerId)).resolves.toMatchObject({ workerId })
  })
})

describe('a prompt', () => {
  const prompt = (workerId: string) => sendCommandInput.parse({ workerId, prompt: 'do the task' })

  it('is refused on a spent budget before the agent runs', async () => {
    const { service, create, spawn, spend, runtime } = setup()
    const parent = await create({ tokens: 10 })
    const child = await spawn(parent.workerId)
    spend(parent.workerId, call(10, 0))
    let execs = 0
    const exec = runtime.onExec
    runtime.onExec = (id, req) => (execs++, exec(id, req))
    for (const { workerId } of [parent, child])
      expect(await refusal(service.sendCommand(prompt(workerId)))).toMatchObject({
        code: 'budget_exceeded',
      })
    expect(execs).toBe(0)
    // Shell commands make no model calls: they still run.
    await service.sendCommand(sendCommandInput.parse({ workerId: parent.workerId, shell: 'true' }))
    expect(execs).toBe(1)
  })

  it('says what it metered, and that the budget ran out when the agent failed for it', async () => {
    const { service, create, spend, runtime } = setup()
    const { workerId } = await create({ tokens: 100 })
    runtime.onExec = async () => {
      // The agent's model calls pass the gateway while it runs.
      spend(workerId, call(60, 10, 0.25))
      const exitCode = (await service.status({ workerId })).spend.requests > 1 ? 1 : 0
      return { exitCode, stdout: 'done', stderr: '', timedOut: false, durationMs: 1 }
    }
    const first = await service.sendCommand(prompt(workerId))
    expect(first.metered).toMatchObject({ requests: 1, inputTokens: 60, costUsd: 0.25 })
    expect(await refusal(service.sendCommand(prompt(workerId)))).toMatchObject({
      code: 'budget_exceeded',
    })
  })
})
