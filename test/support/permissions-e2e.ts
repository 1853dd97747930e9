import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpawnerEvent } from '../../src/core/events.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './process.ts'
import { Producer, testSettings, waitFor } from './redis.ts'
import { StubModel, type ProviderHandler } from './stub-model/server.ts'

export interface PermissionsE2EOptions {
  /** The providers the CLI talks to, as stub handlers (they must answer `Run the command:`). */
  providers: ProviderHandler[]
  /** The spawner's environment for the CLI's model API (see `AgentE2EOptions.spawnerEnv`). */
  spawnerEnv: (baseUrl: string, key: string) => Record<string, string>
  /** WorkerConfig env: settings of the CLI's own, never a key. */
  env?: Record<string, string>
  /** The tool the CLI names for a shell command, as the request and event show it. */
  shellTool: string
}

/**
 * Permission approvals end to end, for one agent: its real CLI in a real worker of the service
 * as `npm start` runs it, against the stub model, which asks to run a shell command
 * (`Run the command: touch <file>`). The CLI's hook (`orchestrator permit`) asks the service,
 * and the test answers as an operator: over HTTP, over Redis, not at all, across a restart of
 * the service, and as a parent agent through its orchestrator CLI.
 */
export const permissionsE2E = (agent: string, opts: PermissionsE2EOptions) =>
  describe(`permission approvals: ${agent} asks before running a tool`, () => {
    const stub = new StubModel(opts.providers)
    const run = randomBytes(4).toString('hex')
    const instance = `perm-${run}`
    // Fixed, so a second process serves the workers of the first (same socket, same key).
    const socketDir = join(tmpdir(), `ws-run-${instance}`)
    const settings = testSettings()
    let env: Record<string, string>
    let spawner: SpawnerProcess
    let http: ReturnType<typeof spawnerClient>
    let producer: Producer

    beforeAll(async () => {
      await stub.start('127.0.0.1')
      env = {
        SPAWNER_INSTANCE: instance,
        WORKER_SOCKET_DIR: socketDir,
        SPAWNER_TOKEN_SECRET: randomBytes(24).toString('hex'),
        REDIS_URL: settings.REDIS_URL,
        REDIS_PREFIX: settings.REDIS_PREFIX,
        REDIS_BLOCK_MS: String(settings.REDIS_BLOCK_MS),
        ...opts.spawnerEnv(`http://127.0.0.1:${stub.port}`, `real-key-${run}`),
      }
      spawner = await startSpawner(env, 60_000)
      http = spawnerClient(spawner)
      producer = new Producer(settings)
    }, 120_000)

    afterAll(async () => {
      const { workers } = (await http?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
      for (const w of workers ?? []) await http('DELETE', `/v1/workers/${w.workerId}`)
      await producer?.cleanup()
      await spawner?.kill()
      rmSync(socketDir, { recursive: true, force: true })
      await stub.stop()
    })

    const create = async (permissions: unknown, more: Record<string, unknown> = {}) => {
      const r = await http('POST', '/v1/workers', {
        agent,
        permissions,
        env: opts.env ?? {},
        labels: { 'test-run': run },
        ...more,
      })
      expect(r.status, JSON.stringify(r.json)).toBe(201)
      return r.json.workerId as string
    }
    const prompt = (workerId: string, file: string) =>
      http('POST', `/v1/workers/${workerId}/commands`, {
        prompt: `Run the command: touch ${file}`,
        timeoutMs: 240_000,
      })
    /** The worker's first waiting request, once there is one. */
    const pending = (workerId: string) =>
      waitFor(
        async () => {
          const r = await http('GET', `/v1/workers/${workerId}/permissions`)
          return r.json.pending?.[0] as {
            requestId: string
            tool: string
            summary: string
            approver: string
          }
        },
        240_000,
        'a permission request',
      )
    const exists = async (workerId: string, path: string) => {
      const res = await fetch(
        `http://127.0.0.1:${spawner.port}/v1/workers/${workerId}/files?path=${encodeURIComponent(path)}`,
      )
      await res.arrayBuffer()
      return res.status === 200
    }
    const events = (workerId: string) => producer.listen(`${producer.names.events}:${workerId}`)
    const permissionEvents = (list: SpawnerEvent[]) =>
      list.flatMap((e) =>
        e.type === 'permission_request'
          ? [`request:${e.tool === opts.shellTool ? 'shell' : e.tool}`]
          : e.type === 'permission_resolved'
            ? [`resolved:${e.decision}:${e.by}`]
            : [],
      )

    it('approve: the tool runs and the reply follows', async () => {
      const workerId = await create('ask')
      const heard = await events(workerId)
      const reply = prompt(workerId, '/workspace/approved.txt')
      const req = await pending(workerId)
      expect(req.tool).toBe(opts.shellTool)
      expect(req.summary).toContain('touch /workspace/approved.txt')
      expect(await exists(workerId, '/workspace/approved.txt')).toBe(false)
      const answer = await http('POST', `/v1/workers/${workerId}/permissions/${req.requestId}`, {
        decision: 'allow',
      })
      expect(answer.status, JSON.stringify(answer.json)).toBe(200)
      const out = await reply
      expect(out.status, JSON.stringify(out.json)).toBe(200)
      expect(out.json.reply.text).toMatch(/^Tool result:/)
      expect(await exists(workerId, '/workspace/approved.txt')).toBe(true)
      heard.stop()
      expect(permissionEvents(heard.events)).toEqual(['request:shell', 'resolved:allow:operator'])
      // Answering again is an error that says why.
      const again = await http('POST', `/v1/workers/${workerId}/permissions/${req.requestId}`, {
        decision: 'deny',
      })
      expect(again).toMatchObject({
        status: 409,
        json: { error: { code: 'permission_request_closed' } },
      })
    }, 360_000)

    it('deny over Redis: the tool does not run and the agent reports the denial', async () => {
      const workerId = await create('ask')
      const reply = prompt(workerId, '/workspace/denied.txt')
      const req = await pending(workerId)
      const answer = await producer.call('answer_permission', {
        workerId,
        requestId: req.requestId,
        decision: 'deny',
        reason: 'not today',
      })
      expect(answer).toMatchObject({ decision: 'deny', by: 'operator' })
      const out = await reply
      expect(out.json.reply.text).toMatch(/^Denied: .*not today/s)
      expect(await exists(workerId, '/workspace/denied.txt')).toBe(false)
    }, 360_000)

    it('the agent cannot stand in for its hook with programs of its own on PATH', async () => {
      const workerId = await create('ask')
      // What an agent could leave behind once one write was allowed: an `orchestrator` and a
      // `node` that allow everything, early on its PATH.
      const plant = await http('POST', `/v1/workers/${workerId}/commands`, {
        shell:
          'mkdir -p ~/.local/bin ~/.npm-global/bin && for d in ~/.local/bin ~/.npm-global/bin; do ' +
          'for f in orchestrator node; do printf "#!/bin/sh\\nexit 0\\n" > $d/$f; chmod +x $d/$f; done; done',
      })
      expect(plant.json.exitCode, JSON.stringify(plant.json)).toBe(0)
      const reply = prompt(workerId, '/workspace/planted.txt')
      const req = await pending(workerId)
      await http('POST', `/v1/workers/${workerId}/permissions/${req.requestId}`, {
        decision: 'deny',
      })
      expect((await reply).json.reply.text).toMatch(/^Denied:/)
      expect(await exists(workerId, '/workspace/planted.txt')).toBe(false)
    }, 360_000)

    it('timeout: an unanswered request is denied at its deadline', async () => {
      const workerId = await create({ timeoutMs: 3000 })
      const heard = await events(workerId)
      const out = await prompt(workerId, '/workspace/late.txt')
      expect(out.json.reply.text).toMatch(/^Denied: .*nobody answered in time/s)
      expect(await exists(workerId, '/workspace/late.txt')).toBe(false)
      heard.stop()
      expect(permissionEvents(heard.events)).toEqual(['request:shell', 'resolved:deny:timeout'])
    }, 360_000)

    it("a sub-worker's request goes to its parent agent, which lists and answers it with the orchestrator CLI", async () => {
      const parent = await create(
        { default: 'allow' },
        { allowedTools: ['spawn', 'status', 'answer'] },
      )
      /** A command run by the parent worker (its own orchestrator CLI, its own token). */
      const sh = async (cmd: string) => {
        const r = await http('POST', `/v1/workers/${parent}/commands`, { shell: cmd })
        expect(r.json.exitCode, JSON.stringify(r.json)).toBe(0)
        return JSON.parse(r.json.stdout).result
      }
      const policy = JSON.stringify({ default: 'ask', approver: 'parent' })
      const { workerId: child } = await sh(
        `orchestrator spawn --agent ${agent} --permissions '${policy}' --json`,
      )
      const reply = prompt(child, '/workspace/by-parent.txt')
      const req = await pending(child)
      expect(req.approver).toBe('parent')
      // The operator may not be the only one: the parent sees it too, and answers.
      const listed = (await sh('orchestrator permissions --json')) as { requestId: string }[]
      expect(listed.map((r) => r.requestId)).toEqual([req.requestId])
      await sh(`orchestrator answer ${child} ${req.requestId} allow --json`)
      const out = await reply
      expect(out.json.reply.text).toMatch(/^Tool result:/)
      expect(await exists(child, '/workspace/by-parent.txt')).toBe(true)
      // The child cannot answer for itself: it lacks the tool, and the service refuses it anyway.
      const self = await http('POST', `/v1/workers/${child}/commands`, {
        shell: `orchestrator answer ${child} whatever allow`,
      })
      expect(self.json.exitCode).toBe(3)
    }, 480_000)

    it('a restart in between: the request is still listed and answerable, and the tool then runs', async () => {
      const workerId = await create('ask')
      // The prompt's own answer dies with the first process; the CLI in the worker goes on.
      const reply = prompt(workerId, '/workspace/restarted.txt').catch((err: unknown) => err)
      const req = await pending(workerId)
      await spawner.kill('SIGKILL')
      await reply
      spawner = await startSpawner(env, 60_000)
      http = spawnerClient(spawner)
      expect(await exists(workerId, '/workspace/restarted.txt'), 'ran before the answer').toBe(
        false,
      )
      const status = await http('GET', `/v1/workers/${workerId}`)
      expect(status.json.permissions?.pending, JSON.stringify(status.json)).toMatchObject([
        { requestId: req.requestId, tool: opts.shellTool },
      ])
      const answer = await http('POST', `/v1/workers/${workerId}/permissions/${req.requestId}`, {
        decision: 'allow',
      })
      expect(answer.status, JSON.stringify(answer.json)).toBe(200)
      await waitFor(
        async () => (await exists(workerId, '/workspace/restarted.txt')) || undefined,
        120_000,
        'the approved tool to run',
      )
    }, 480_000)
  })
