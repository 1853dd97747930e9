import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { workerTraces } from './gateway-probe.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './process.ts'
import { Producer, testSettings } from './redis.ts'
import { readSseUntil, sseEvents } from './sse.ts'
import { StubModel, type ProviderHandler } from './stub-model/server.ts'

export interface AgentE2EOptions {
  /** The providers the CLI talks to, as stub handlers. */
  providers: ProviderHandler[]
  /**
   * The spawner's environment for the CLI's model API, given the stub's base URL and the real
   * key: the gateway holds these, the worker never sees the key.
   */
  spawnerEnv: (baseUrl: string, key: string) => Record<string, string>
  /** WorkerConfig env: settings of the CLI's own (a model name), never a key. */
  env?: Record<string, string>
  capabilities?: string[]
  /** Per-prompt timeout. */
  promptTimeoutMs?: number
  /**
   * Also run the tree-and-budget test: a sub-worker spawned by the worker's own `orchestrator`
   * CLI, spend summed over the tree, and a budget that stops the next prompt. One agent is
   * enough to show the gateway's part, which is the same for all.
   */
  budgets?: boolean
  /**
   * Also run the fork test: one turn, a fork of two, and each fork continues the same session
   * its own way, with the first turn in its history and its own credential.
   */
  forks?: boolean
  /** Also run the tool tests: the CLI runs its shell tool when the model calls it. */
  toolCalls?: boolean
  /**
   * Also run the approval tests: with `permissions: 'ask'` each tool call waits for an answer
   * over HTTP; allowed, it runs and the reply follows; denied, it does not run and the agent
   * says so. For the agents whose plugin can ask.
   */
  permissions?: boolean
  /**
   * With `permissions`: a shell command, run as the worker user (as its agent could run it),
   * that writes the CLI's own settings or plugins to switch the permission hook off, or (code)
   * writes /tmp/tampered. The next prompt must still ask, and that code never run; with
   * `refused`, the plugin refuses that prompt instead, with a message that matches.
   */
  tamper?: { shell: string; refused?: RegExp }
}

/**
 * The end-to-end suite every agent plugin passes: the real CLI inside a real worker of the
 * service as `npm start` runs it, against the stub model, over HTTP and over Redis. "What is
 * 5 + 7?" → "12"; a second prompt with the sessionId reaches the model with the first turn in
 * its history. The worker has no network: its CLI reaches the model through the gateway, which
 * swaps in the spawner's real key; the stub must see that key, and the worker must hold it
 * nowhere (env, files, processes, `docker inspect`, logs, events, answers).
 */
export const agentE2E = (agent: string, opts: AgentE2EOptions) =>
  describe(`agent ${agent}: the real CLI against the stub model, through the gateway`, () => {
    const stub = new StubModel(opts.providers)
    const REAL = `real-key-${randomBytes(12).toString('hex')}`
    const run = randomBytes(4).toString('hex')
    let spawner: SpawnerProcess
    let http: ReturnType<typeof spawnerClient>
    let producer: Producer
    const timeoutMs = opts.promptTimeoutMs ?? 120_000
    const transcripts = join(tmpdir(), `ws-transcripts-${agent}-${run}`)

    beforeAll(async () => {
      await stub.start('127.0.0.1')
      const settings = testSettings()
      spawner = await startSpawner(
        {
          SPAWNER_INSTANCE: `e2e-${agent}-${run}`,
          REDIS_URL: settings.REDIS_URL,
          REDIS_PREFIX: settings.REDIS_PREFIX,
          REDIS_BLOCK_MS: String(settings.REDIS_BLOCK_MS),
          TRANSCRIPTS_DIR: transcripts,
          ...opts.spawnerEnv(`http://127.0.0.1:${stub.port}`, REAL),
        },
        60_000,
      )
      http = spawnerClient(spawner)
      producer = new Producer(settings)
    }, 900_000)
    afterAll(async () => {
      const { workers } = (await http?.('GET', `/v1/workers?label=test-run=${run}`))?.json ?? {}
      for (const w of workers ?? []) await http('DELETE', `/v1/workers/${w.workerId}`)
      await producer?.cleanup()
      await spawner?.kill()
      await stub.stop()
      rmSync(transcripts, { recursive: true, force: true })
    })

    const config = () => ({
      agent,
      capabilities: opts.capabilities ?? [],
      env: opts.env ?? {},
      labels: { 'test-run': run },
    })

    const checkHistory = () => {
      const second = stub.requestsWith('What is 1 + 2?')
      expect(second.length, 'the second prompt reached the stub').toBeGreaterThan(0)
      expect(
        second.some((r) => r.text.includes('What is 5 + 7?')),
        'the first turn is in the history',
      ).toBe(true)
    }

    it('over HTTP: answers, continues the conversation; the key stays in the gateway', async () => {
      // Image builds can take minutes: the create waits as long as a prompt may.
      const created = await http('POST', '/v1/workers', config())
      expect(created.status, JSON.stringify(created.json)).toBe(201)
      const id = created.json.workerId as string
      stub.requests.length = 0
      const first = await http('POST', `/v1/workers/${id}/commands`, {
        prompt: 'What is 5 + 7?',
        timeoutMs,
      })
      expect(first.status, JSON.stringify(first.json).slice(0, 2000)).toBe(200)
      expect(first.json.reply?.text, JSON.stringify(first.json).slice(0, 2000)).toBe('12')
      const sessionId = first.json.reply.sessionId as string
      expect(sessionId).toBeTruthy()
      const second = await http('POST', `/v1/workers/${id}/commands`, {
        prompt: 'What is 1 + 2?',
        sessionId,
        timeoutMs,
      })
      expect(second.json.reply?.text, JSON.stringify(second.json).slice(0, 2000)).toBe('3')
      checkHistory()

      // Every model call carried the real key, put there by the gateway; none the worker's own.
      const calls = stub.requests.filter((r) => r.provider !== 'none')
      expect(calls.length).toBeGreaterThan(0)
      for (const r of calls) {
        expect(JSON.stringify(r.headers) + r.path, `${r.method} ${r.path}`).toContain(REAL)
        expect(JSON.stringify(r.headers) + r.path).not.toContain('wsk_')
      }
      const status = (await http('GET', `/v1/workers/${id}`)).json
      expect(status.usage.prompts).toBe(2)
      expect(status.agentState).toBe('idle')
      // Measured at the gateway, whatever the CLI reports.
      expect(status.spend.requests).toBeGreaterThanOrEqual(2)
      expect(status.spend.inputTokens).toBeGreaterThan(0)
      expect(first.json.metered?.requests).toBeGreaterThanOrEqual(1)

      const [container] = await new Dockerode().listContainers({
        filters: { label: [`workers-spawner.worker-id=${id}`] },
      })
      const traces = await workerTraces(container!.Id, REAL)
      expect(traces).not.toMatch(/^file: /m)
      expect(traces).not.toContain(REAL)
      const answers = JSON.stringify([first.json, second.json, status])
      expect(answers).not.toContain(REAL)
      const logs = JSON.stringify(spawner.logs) + spawner.stderr()
      expect(logs).not.toContain(REAL)
      await http('DELETE', `/v1/workers/${id}`)
    }, 900_000)

    it('keeps the transcript after delete; a new worker resumes the saved session', async () => {
      const created = await http('POST', '/v1/workers', config())
      expect(created.status, JSON.stringify(created.json)).toBe(201)
      const id = created.json.workerId as string
      stub.requests.length = 0
      const first = await http('POST', `/v1/workers/${id}/commands`, {
        prompt: 'What is 5 + 7?',
        timeoutMs,
      })
      expect(first.json.reply?.text, JSON.stringify(first.json).slice(0, 2000)).toBe('12')
      const sessionId = first.json.reply.sessionId as string
      expect((await http('DELETE', `/v1/workers/${id}`)).status).toBe(200)

      // The worker is gone; its transcript is not (HTTP and Redis alike).
      const kept = await http('GET', `/v1/workers/${id}/transcript`)
      expect(kept.status, JSON.stringify(kept.json).slice(0, 2000)).toBe(200)
      expect(kept.json.turns).toHaveLength(1)
      expect(kept.json.turns[0]).toMatchObject({
        n: 1,
        prompt: 'What is 5 + 7?',
        sessionId,
        reply: { text: '12' },
        session: { saved: true },
      })
      const viaRedis = await producer.call('transcript', { workerId: id, sessionId })
      expect(viaRedis.turns.map((t: { prompt: string }) => t.prompt)).toEqual(['What is 5 + 7?'])

      // Nothing is created for a session that was never saved.
      const workers = async () =>
        (
          (await http('GET', `/v1/workers?label=test-run=${run}`)).json.workers as {
            workerId: string
          }[]
        )
          .map((w) => w.workerId)
          .sort()
      const before = await workers()
      const missing = await http('POST', '/v1/workers', {
        ...config(),
        resume: { fromWorker: id, sessionId: 'no-such-session' },
      })
      expect(missing.status, JSON.stringify(missing.json)).toBe(404)
      expect(missing.json.error.message).toContain('resume.sessionId')
      expect(await workers()).toEqual(before)

      const resumed = await http('POST', '/v1/workers', {
        ...config(),
        resume: { fromWorker: id, sessionId },
      })
      expect(resumed.status, JSON.stringify(resumed.json)).toBe(201)
      const next = resumed.json.workerId as string
      const second = await http('POST', `/v1/workers/${next}/commands`, {
        prompt: 'What is 1 + 2?',
        sessionId,
        timeoutMs,
      })
      expect(second.json.reply?.text, JSON.stringify(second.json).slice(0, 2000)).toBe('3')
      checkHistory()
      const continued = (await http('GET', `/v1/workers/${next}/transcript`)).json
      expect(continued.turns.map((t: { prompt: string }) => t.prompt)).toEqual([
        'What is 5 + 7?',
        'What is 1 + 2?',
      ])
      expect(continued.turns[0].from).toBe(id)
      await http('DELETE', `/v1/workers/${next}`)
    }, 900_000)

    // Defined for the agents that ask for it (not skipped for the others: it is not theirs).
    const budgetTest = opts.budgets ? it : undefined
    budgetTest?.(
      'sums spend over a tree, and a budget stops the next prompt with budget_exceeded',
      async () => {
        const prompt = (workerId: string, text: string) =>
          http('POST', `/v1/workers/${workerId}/commands`, { prompt: text, timeoutMs })
        const created = await http('POST', '/v1/workers', {
          ...config(),
          allowedTools: ['spawn', 'status'],
        })
        expect(created.status, JSON.stringify(created.json)).toBe(201)
        const parent = created.json.workerId as string
        expect((await prompt(parent, 'What is 5 + 7?')).json.reply?.text).toBe('12')
        // The parent's own CLI spawns a child (same agent), which the operator then prompts.
        const spawned = await http('POST', `/v1/workers/${parent}/commands`, {
          shell: `orchestrator spawn --agent ${agent} --json`,
          timeoutMs,
        })
        expect(spawned.json.exitCode, JSON.stringify(spawned.json)).toBe(0)
        const child = JSON.parse(spawned.json.stdout).result.workerId as string
        expect(String(child), spawned.json.stdout).toMatch(/^w-/)
        const childAnswer = await prompt(child, 'What is 1 + 2?')
        expect(childAnswer.json.reply?.text, JSON.stringify(childAnswer.json)).toBe('3')
        const [p, c] = await Promise.all(
          [parent, child].map(async (id) => (await http('GET', `/v1/workers/${id}`)).json),
        )
        expect(c.parentId).toBe(parent)
        expect(c.spend.requests).toBeGreaterThanOrEqual(1)
        expect(p.treeSpend.requests).toBe(p.spend.requests + c.spend.requests)
        expect(p.treeSpend.inputTokens).toBe(p.spend.inputTokens + c.spend.inputTokens)

        // A budget the tree has already spent: the next prompt, the parent's or the child's,
        // is refused before its CLI starts, until the operator raises it.
        const tokens = p.treeSpend.inputTokens + p.treeSpend.outputTokens
        expect((await http('PATCH', `/v1/workers/${parent}`, { budget: { tokens } })).status).toBe(
          200,
        )
        for (const id of [parent, child]) {
          const refused = await prompt(id, 'What is 2 + 2?')
          expect(refused.status, JSON.stringify(refused.json)).toBe(403)
          expect(refused.json.error.code).toBe('budget_exceeded')
        }
        const raised = { budget: { tokens: tokens * 100 } }
        expect((await http('PATCH', `/v1/workers/${parent}`, raised)).status).toBe(200)
        expect((await prompt(child, 'What is 2 + 2?')).json.reply?.text).toBe('4')
        await http('DELETE', `/v1/workers/${parent}`)
      },
      900_000,
    )

    // Defined for the agents that ask for it (as `budgets`).
    const forkTest = opts.forks ? it : undefined
    forkTest?.(
      'forks continue the same conversation apart, each with its own credential',
      async () => {
        const prompt = (workerId: string, text: string, sessionId?: string) =>
          http('POST', `/v1/workers/${workerId}/commands`, {
            prompt: text,
            timeoutMs,
            ...(sessionId ? { sessionId } : {}),
          })
        const created = await http('POST', '/v1/workers', config())
        expect(created.status, JSON.stringify(created.json)).toBe(201)
        const source = created.json.workerId as string
        const first = await prompt(source, 'What is 5 + 7?')
        expect(first.json.reply?.text, JSON.stringify(first.json).slice(0, 2000)).toBe('12')
        const sessionId = first.json.reply.sessionId as string
        expect(sessionId).toBeTruthy()

        const forked = await http('POST', `/v1/workers/${source}/fork`, { count: 2 })
        expect(forked.status, JSON.stringify(forked.json)).toBe(201)
        expect(forked.json.turns).toBe(1)
        const [a, b] = forked.json.workers.map((w: { workerId: string }) => w.workerId)
        stub.requests.length = 0
        const [ra, rb] = await Promise.all([
          prompt(a, 'What is 1 + 2?', sessionId),
          prompt(b, 'What is 3 + 4?', sessionId),
        ])
        expect(ra.json.reply?.text, JSON.stringify(ra.json).slice(0, 2000)).toBe('3')
        expect(rb.json.reply?.text, JSON.stringify(rb.json).slice(0, 2000)).toBe('7')
        for (const [mine, theirs] of [
          ['What is 1 + 2?', 'What is 3 + 4?'],
          ['What is 3 + 4?', 'What is 1 + 2?'],
        ] as const) {
          const seen = stub.requestsWith(mine)
          expect(seen.length, `${mine} reached the stub`).toBeGreaterThan(0)
          expect(seen.some((r) => r.text.includes('What is 5 + 7?'))).toBe(true)
          expect(seen.some((r) => r.text.includes(theirs))).toBe(false)
        }
        // Each fork's calls went through the gateway on its own account, with the real key.
        for (const id of [a, b]) {
          const status = (await http('GET', `/v1/workers/${id}`)).json
          expect(status.spend.requests).toBeGreaterThanOrEqual(1)
        }
        // Each fork's transcript: the source's turn, then its own.
        const prompts = async (id: string) =>
          (await http('GET', `/v1/workers/${id}/transcript`)).json.turns.map(
            (t: { prompt: string }) => t.prompt,
          )
        expect(await prompts(a)).toEqual(['What is 5 + 7?', 'What is 1 + 2?'])
        expect(await prompts(b)).toEqual(['What is 5 + 7?', 'What is 3 + 4?'])
        const src = (await http('GET', `/v1/workers/${source}`)).json
        expect(src.spend.requests).toBe(first.json.metered?.requests)
        for (const r of stub.requests.filter((r) => r.provider !== 'none'))
          expect(JSON.stringify(r.headers)).toContain(REAL)
        for (const id of [source, a, b]) await http('DELETE', `/v1/workers/${id}`)
      },
      900_000,
    )

    /** A prompt that makes the stub call the CLI's shell tool to write `file`. */
    const writeFile = (file: string) =>
      `Run the command: echo ran > /workspace/${file} && echo wrote-it`
    const shell = async (id: string, cmd: string) =>
      (await http('POST', `/v1/workers/${id}/commands`, { shell: cmd })).json

    const toolTest = opts.toolCalls ? it : undefined
    toolTest?.(
      'runs its shell tool when the model calls it, and answers with the result',
      async () => {
        const created = await http('POST', '/v1/workers', config())
        expect(created.status, JSON.stringify(created.json)).toBe(201)
        const id = created.json.workerId as string
        const ran = await http('POST', `/v1/workers/${id}/commands`, {
          prompt: writeFile('tool-ran.txt'),
          timeoutMs,
        })
        const said = JSON.stringify(ran.json).slice(0, 2000)
        expect(ran.json.reply?.text, said).toMatch(/^Tool result: [\s\S]*wrote-it/)
        expect((await shell(id, 'cat /workspace/tool-ran.txt')).stdout).toBe('ran\n')
        await http('DELETE', `/v1/workers/${id}`)
      },
      600_000,
    )

    const permissionTest = opts.permissions ? it : undefined
    permissionTest?.(
      'asks before a tool call: allowed, the tool runs; denied, it does not and the agent says so',
      async () => {
        const created = await http('POST', '/v1/workers', { ...config(), permissions: 'ask' })
        expect(created.status, JSON.stringify(created.json)).toBe(201)
        const id = created.json.workerId as string
        const base = `http://127.0.0.1:${spawner.port}`
        // Subscribed before the prompt, so its request is in the stream; answered when it comes.
        const prompt = async (file: string, answer: object) => {
          const events = await fetch(`${base}/v1/events?worker=${id}`)
          const reply = http('POST', `/v1/workers/${id}/commands`, {
            prompt: writeFile(file),
            timeoutMs,
          })
          // A prompt that ends without asking fails here, with what it said.
          const ended = reply.then((r) => {
            throw new Error(`no permission request: ${JSON.stringify(r.json).slice(0, 2000)}`)
          })
          const seen = sseEvents(
            await Promise.race([readSseUntil(events, 'event: permission_request'), ended]),
          )
          const request = seen.find(([e]) => e === 'permission_request')?.[1]
          expect(request, JSON.stringify(seen).slice(0, 2000)).toBeDefined()
          expect(JSON.stringify(request.input)).toContain(file)
          const path = `/v1/workers/${id}/permissions/${request.requestId}`
          const answered = await http('POST', path, answer)
          expect(answered.status, JSON.stringify(answered.json)).toBe(200)
          return { request, done: await reply }
        }

        const allowed = await prompt('allowed.txt', { decision: 'allow' })
        const said = JSON.stringify(allowed.done.json).slice(0, 2000)
        expect(allowed.done.json.reply?.text, said).toMatch(/^Tool result: [\s\S]*wrote-it/)
        expect((await shell(id, 'cat /workspace/allowed.txt')).stdout).toBe('ran\n')

        const denied = await prompt('denied.txt', { decision: 'deny', reason: 'not this file' })
        expect(denied.request.requestId).not.toBe(allowed.request.requestId)
        const why = JSON.stringify(denied.done.json).slice(0, 2000)
        expect(denied.done.json.reply?.text, why).toMatch(/^Denied: [\s\S]*not this file/)
        expect((await shell(id, 'test -e /workspace/denied.txt')).exitCode).toBe(1)

        // The agent's own tricks: an `orchestrator` that allows everything, first on its PATH,
        // and its CLI's settings or plugins. The hook still asks, or the prompt is refused.
        const fake = 'printf "#!/bin/sh\\nexit 0\\n" > $d/orchestrator && chmod +x $d/orchestrator'
        const planted = await shell(id, `for d in ~/.local/bin ~/.npm-global/bin; do ${fake}; done`)
        expect(planted.exitCode, JSON.stringify(planted)).toBe(0)
        const tampered = opts.tamper && (await shell(id, opts.tamper.shell))
        expect(tampered?.exitCode ?? 0, JSON.stringify(tampered)).toBe(0)
        if (opts.tamper?.refused) {
          const refused = await http('POST', `/v1/workers/${id}/commands`, {
            prompt: writeFile('tampered.txt'),
            timeoutMs,
          })
          expect(refused.status, JSON.stringify(refused.json)).toBe(502)
          expect(refused.json.error.message).toMatch(opts.tamper.refused)
        } else {
          const again = await prompt('tampered.txt', { decision: 'deny' })
          expect(again.done.json.reply?.text).toMatch(/^Denied: /)
        }
        expect((await shell(id, 'test -e /workspace/tampered.txt')).exitCode).toBe(1)
        expect((await shell(id, 'test -e /tmp/tampered')).exitCode).toBe(1)

        const { json } = await http('GET', `/v1/workers/${id}/permissions`)
        expect(json.mode).toBe('ask')
        expect(json.pending).toEqual([])
        await http('DELETE', `/v1/workers/${id}`)
      },
      600_000,
    )

    it('over HTTP with SSE: streams the CLI output, then the parsed reply', async () => {
      const created = await http('POST', '/v1/workers', config())
      const id = created.json.workerId as string
      const res = await fetch(`http://127.0.0.1:${spawner.port}/v1/workers/${id}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ prompt: 'What is 20 + 22?', timeoutMs }),
      })
      const text = await res.text()
      const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map(
        (m) => [m[1], JSON.parse(m[2]!)] as const,
      )
      expect(events.filter(([e]) => e === 'output').length).toBeGreaterThan(0)
      const result = events.find(([e]) => e === 'result')?.[1]
      expect(result?.reply?.text, text.slice(0, 2000)).toBe('42')
      expect(text).not.toContain(REAL)
      // The same run in the common vocabulary: the text as chunks, then the end of the turn.
      const updates = events.filter(([e]) => e === 'agent').map(([, d]) => d)
      expect(updates.map((u) => u.seq)).toEqual(updates.map((_, i) => i))
      const said = updates
        .filter((u) => u.update.sessionUpdate === 'agent_message_chunk')
        .map((u) => u.update.content.text)
        .join('')
      expect(said.trim(), JSON.stringify(updates).slice(0, 2000)).toBe('42')
      expect(updates.at(-1)?.update.sessionUpdate).toBe('turn_end')
      expect(updates.filter((u) => u.update.sessionUpdate === 'turn_end')).toHaveLength(1)
      await http('DELETE', `/v1/workers/${id}`)
    }, 600_000)

    it('over Redis: answers and continues the conversation', async () => {
      const { workerId } = await producer.call('create', { config: config() })
      stub.requests.length = 0
      const first = await producer.call('send_command', {
        workerId,
        prompt: 'What is 5 + 7?',
        timeoutMs,
      })
      expect(first.reply?.text).toBe('12')
      const second = await producer.call('send_command', {
        workerId,
        prompt: 'What is 1 + 2?',
        sessionId: first.reply.sessionId,
        timeoutMs,
      })
      expect(second.reply?.text).toBe('3')
      expect(second.metered?.requests).toBeGreaterThanOrEqual(1)
      checkHistory()
      await producer.call('delete', { workerId })
    }, 600_000)
  })

/**
 * A shell command that edits the JSON file `path` (created when missing) as the worker user:
 * `statement` changes `s`, the parsed file. Both are put in double quotes: no `"` or `$` in them.
 * @example editJson('~/.factory/settings.json', 's.hooks = { hooksDisabled: true }')
 */
export const editJson = (path: string, statement: string) => {
  const script = [
    "const fs = require('fs'), f = process.argv[1]",
    "const s = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {}",
    statement,
    "fs.mkdirSync(require('path').dirname(f), { recursive: true })",
    'fs.writeFileSync(f, JSON.stringify(s))',
  ].join('; ')
  return `node -e "${script}" ${path}`
}
