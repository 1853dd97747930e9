/**
 * Agents as long-lived ACP processes against the headless path, in the same worker, against the
 * same stub, through the model gateway (the workers are isolated: the gateway is their only way
 * to the model). Per agent:
 *
 * - headless: `send_command` with a prompt (a fresh CLI each time, parsed), and the same CLI
 *   run with `docker exec` (the baseline);
 * - ACP cold: `docker exec -i <acp command>`, `initialize`, `session/new`, one prompt;
 * - ACP warm: further prompts on that long-lived process, in the same session;
 * - the idle ACP process's memory (RSS of the processes it added to the worker).
 *
 * It also probes what each agent does with a second turn, `session/load` in a new process,
 * `session/cancel`, and which modes it offers. The claude-code and codex adapters are npm
 * packages of their own: use an image that has them (see `ACP_ADAPTERS`), else those agents are
 * reported as missing.
 *
 *   printf 'FROM workers-spawner/universal-worker:latest\nUSER root\nRUN npm install -g --prefix /usr/local %s\nUSER worker\n' \
 *     '@agentclientprotocol/claude-agent-acp@0.101.0 @zed-industries/codex-acp@0.16.0' |
 *     docker build -t workers-spawner/universal-worker:acp -
 *   WORKER_IMAGE=workers-spawner/universal-worker:acp BENCH_ONLY=acp BENCH_PROMPTS=8 npm run bench
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { agentPrompt, type AgentPlugin } from '../../src/core/plugin/contract.ts'
import type { RunningNode } from '../../src/node/start.ts'
import { StubModel, type ProviderHandler } from '../support/stub-model/server.ts'
import { anthropic } from '../support/stub-model/anthropic.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'
import { openaiResponses } from '../support/stub-model/openai-responses.ts'
import { gemini } from '../support/stub-model/gemini.ts'
import { AcpExec, initialize, promptTurn } from './acp-client.ts'
import { fmt, median, percentile } from './stats.ts'

const run = promisify(execFile)
const N = Number(process.env.BENCH_PROMPTS ?? 8)
const TIMEOUT_MS = 120_000

/** npm packages an image needs for the adapters (not the CLIs' own: those speak ACP natively). */
export const ACP_ADAPTERS = [
  '@agentclientprotocol/claude-agent-acp@0.101.0',
  '@zed-industries/codex-acp@0.16.0',
]

type StartService = (instance: string, extra?: Record<string, string>) => Promise<RunningNode>

interface AcpAgent {
  /** The ACP command in the worker. */
  argv: string[]
  /** WorkerConfig env (settings, never keys). */
  env?: Record<string, string>
}

/** The ACP command of each agent, as its CLI or adapter takes it. */
const AGENTS: Record<string, AcpAgent> = {
  'gemini-cli': { argv: ['gemini', '--acp'], env: { GEMINI_MAX_ATTEMPTS: '1' } },
  opencode: { argv: ['opencode', 'acp'], env: { OPENCODE_MODEL: 'stub-model' } },
  // The adapter drives the CLI of the plugin (the pinned release), not the one it bundles.
  'claude-code': {
    argv: ['/bin/sh', '-c', 'CLAUDE_CODE_EXECUTABLE="$(command -v claude)" exec claude-agent-acp'],
  },
  codex: { argv: ['codex-acp'] },
}

/** The spawner's gateway settings for every agent above: one stub behind all of them. */
const gatewayEnv = (base: string, key: string) => ({
  ANTHROPIC_BASE_URL: base,
  ANTHROPIC_API_KEY: key,
  OPENAI_BASE_URL: `${base}/v1`,
  OPENAI_API_KEY: key,
  GOOGLE_GEMINI_BASE_URL: base,
  GEMINI_API_KEY: key,
  OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
  OPENCODE_PROVIDER_API_KEY: key,
})

/**
 * The stub, holding back any answer to "Wait for me." until `release()`: a turn that is still
 * running when the bench cancels it.
 */
const holding = (providers: ProviderHandler[]) => {
  const held: (() => void)[] = []
  const wrap = (p: ProviderHandler): ProviderHandler => ({
    ...p,
    async handle(ctx) {
      const last = ctx.text.lastIndexOf('Wait for me.')
      if (last !== -1 && last > ctx.text.lastIndexOf('What is')) {
        await new Promise<void>((resolve) => held.push(resolve))
      }
      return p.handle(ctx)
    },
  })
  return {
    providers: providers.map(wrap),
    release: () => held.splice(0).forEach((r) => r()),
  }
}

const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t = performance.now()
  const v = await fn()
  return [performance.now() - t, v]
}

const row = (name: string, samples: number[]) =>
  `  ${name.padEnd(34)} p50 ${fmt(median(samples)).padStart(10)}  p95 ${fmt(percentile(samples, 95)).padStart(10)}  (n=${samples.length}, min ${fmt(Math.min(...samples))}, max ${fmt(Math.max(...samples))})`

/** Resident memory (KiB) of every process in the container. */
const rssKiB = async (containerId: string) => {
  const { stdout } = await run('docker', ['exec', containerId, 'ps', '-eo', 'rss='])
  return stdout
    .split('\n')
    .map(Number)
    .filter((n) => n > 0)
    .reduce((a, b) => a + b, 0)
}

/** Runs the bench for each agent; returns the lines to print. */
export const benchAcp = async (startService: StartService, names: string[]) => {
  const held = holding([anthropic, openaiChat, openaiResponses, gemini])
  const stub = new StubModel(held.providers)
  await stub.start('127.0.0.1')
  const key = `real-${randomBytes(8).toString('hex')}`
  const node = await startService(`bench-acp-${randomBytes(3).toString('hex')}`, {
    ...gatewayEnv(`http://127.0.0.1:${stub.port}`, key),
  })
  const { service } = node.spawner
  const lines: string[] = []
  try {
    for (const name of names) {
      const spec = AGENTS[name]
      if (!spec) throw new Error(`no ACP setup for '${name}' (known: ${Object.keys(AGENTS)})`)
      lines.push(...(await benchOne(service, stub, held.release, name, spec, key)))
    }
  } finally {
    held.release()
    await node.close()
    await stub.stop()
  }
  return lines
}

type Service = RunningNode['spawner']['service']

const benchOne = async (
  service: Service,
  stub: StubModel,
  release: () => void,
  name: string,
  spec: AcpAgent,
  key: string,
): Promise<string[]> => {
  const out = [`${name}: ACP \`${spec.argv.join(' ')}\` vs headless, through the gateway`]
  const config = service.parseConfig({ agent: name, env: spec.env ?? {}, labels: { bench: '1' } })
  const { workerId } = await service.create({ config })
  try {
    const record = await service.get(workerId)
    const cid = record.containerId
    const agent = (await import(`../../plugins/${name}/index.ts`)).default as AgentPlugin
    const prompt = (text: string) =>
      service.sendCommand({ workerId, prompt: text, timeoutMs: TIMEOUT_MS })

    // Headless: the service's path, and the same CLI run with docker exec.
    const first = await prompt('What is 5 + 7?')
    out.push(`  headless reply: ${JSON.stringify(first.reply?.text)}`)
    const cmd = agentPrompt(agent, {
      prompt: 'What is 5 + 7?',
      workdir: '/workspace',
      env: {},
      stream: false,
    })
    const envArgs = Object.entries(cmd.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`])
    const headless: number[] = []
    const raw: number[] = []
    for (let i = 0; i < N; i++) {
      headless.push((await time(() => prompt('What is 5 + 7?')))[0])
      raw.push(
        (
          await time(() => {
            const p = run('docker', [
              'exec',
              ...(cmd.stdin === undefined ? [] : ['-i']),
              '-w',
              '/workspace',
              ...envArgs,
              cid,
              ...cmd.argv,
            ])
            p.child.stdin?.end(cmd.stdin ?? '')
            return p
          })
        )[0],
      )
    }

    const probe = await probeAcp(cid, spec, stub, release)
    out.push(...probe.notes.map((n) => `  ${n}`))
    if (!probe.ok) {
      out.push(row('headless send_command', headless), row('headless docker exec', raw))
      return out
    }

    // ACP cold: process start, handshake and session, then the prompt, each a new process.
    const cold: number[] = []
    const coldPrompt: number[] = []
    const handshake: number[] = []
    for (let i = 0; i < N; i++) {
      const t0 = performance.now()
      const acp = new AcpExec(cid, spec.argv, {})
      try {
        await initialize(acp)
        const s = await acp.request('session/new', { cwd: '/workspace', mcpServers: [] })
        const t1 = performance.now()
        const turn = await promptTurn(acp, String(s.sessionId), 'What is 5 + 7?')
        const t2 = performance.now()
        if (!turn.said.includes('12')) throw new Error(`cold prompt said ${turn.said}`)
        cold.push(t2 - t0)
        handshake.push(t1 - t0)
        coldPrompt.push(t2 - t1)
      } finally {
        await acp.close()
      }
    }

    // ACP warm: one long-lived process, one session, prompt after prompt.
    const before = await rssKiB(cid)
    const acp = new AcpExec(cid, spec.argv, {})
    const warm: number[] = []
    let idleKiB = 0
    try {
      await initialize(acp)
      const s = await acp.request('session/new', { cwd: '/workspace', mcpServers: [] })
      const sessionId = String(s.sessionId)
      await promptTurn(acp, sessionId, 'What is 1 + 1?')
      for (let i = 0; i < N; i++) {
        const [ms, turn] = await time(() => promptTurn(acp, sessionId, 'What is 5 + 7?'))
        if (!turn.said.includes('12')) throw new Error(`warm prompt said ${turn.said}`)
        warm.push(ms)
      }
      idleKiB = (await rssKiB(cid)) - before
    } finally {
      await acp.close()
    }

    const served = await viaService(service, `${name}-acp`, spec)

    out.push(
      row('headless send_command', headless),
      row('headless docker exec (baseline)', raw),
      row('ACP cold: start+init+session/new', handshake),
      row('ACP cold: first prompt', coldPrompt),
      row('ACP cold: total', cold),
      row('ACP warm prompt (long-lived)', warm),
      ...(served
        ? [
            row(`send_command, ${name}-acp: first`, served.first),
            row(`send_command, ${name}-acp: warm`, served.warm),
            `  ratio ${name}-acp warm / headless send_command  p50 ${(median(served.warm) / median(headless)).toFixed(2)}×`,
          ]
        : []),
      `  ratio warm ACP / headless send_command  p50 ${(median(warm) / median(headless)).toFixed(2)}×  p95 ${(percentile(warm, 95) / percentile(headless, 95)).toFixed(2)}×`,
      `  ratio cold ACP / headless send_command  p50 ${(median(cold) / median(headless)).toFixed(2)}×`,
      `  idle ACP process RSS in the worker: ${(idleKiB / 1024).toFixed(0)} MiB`,
    )
    const leaked = stub.requests.some((r) => JSON.stringify(r.headers).includes('wsk_'))
    const carried = stub.requests.filter((r) => r.provider !== 'none')
    out.push(
      `  gateway: ${carried.length} model calls, ${carried.every((r) => JSON.stringify(r.headers).includes(key)) ? 'all with the real key' : 'NOT all with the real key'}${leaked ? ', a worker credential reached the stub' : ''}`,
    )
    return out
  } finally {
    await service.delete({ workerId })
  }
}

/**
 * What the protocol does in this agent: handshake, two turns in one session (the second with
 * the first in the model's history), streaming, `session/load` in a new process, cancel.
 */
const probeAcp = async (
  cid: string,
  spec: AcpAgent,
  stub: StubModel,
  release: () => void,
): Promise<{ ok: boolean; notes: string[] }> => {
  const notes: string[] = []
  const permissions: unknown[] = []
  const onRequest = (method: string, params: Record<string, unknown>) => {
    if (method === 'session/request_permission') {
      permissions.push(params)
      return { outcome: { outcome: 'cancelled' } }
    }
    throw new Error(`not offered: ${method}`)
  }
  let acp = new AcpExec(cid, spec.argv, { onRequest })
  let sessionId = ''
  try {
    const init = await initialize(acp)
    notes.push(
      `initialize: protocol ${init.protocolVersion}, agent ${JSON.stringify(init.agentInfo ?? {})}, capabilities ${JSON.stringify(init.agentCapabilities ?? {})}, auth ${JSON.stringify((init.authMethods ?? []).map((m: { id: string }) => m.id))}`,
    )
    const s = await acp.request('session/new', { cwd: '/workspace', mcpServers: [] })
    sessionId = String(s.sessionId)
    const modes = s.modes as { availableModes?: { id: string }[]; currentModeId?: string }
    notes.push(
      `session/new: ${sessionId}; modes ${JSON.stringify(modes?.availableModes?.map((m) => m.id) ?? [])} (current ${modes?.currentModeId ?? '-'})`,
    )
    stub.requests.length = 0
    const one = await promptTurn(acp, sessionId, 'What is 5 + 7?')
    const two = await promptTurn(acp, sessionId, 'What is 1 + 2?')
    const history = stub
      .requestsWith('What is 1 + 2?')
      .some((r) => r.text.includes('What is 5 + 7?'))
    const kinds = [...new Set([...one.updates, ...two.updates].map((u) => u.sessionUpdate))]
    notes.push(
      `two turns: ${JSON.stringify(one.said)} (${one.stopReason}), ${JSON.stringify(two.said)} (${two.stopReason}); first turn in the second's history: ${history}; updates: ${kinds.join(', ')}`,
    )
    if (!one.said.includes('12') || !two.said.includes('3')) return { ok: false, notes }

    // Cancel: a turn the stub holds; session/cancel must end it with `cancelled`.
    const pending = promptTurn(acp, sessionId, 'Wait for me.')
    const until = Date.now() + 30_000
    while (!stub.requestsWith('Wait for me.').length && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50))
    const [cancelMs, cancelled] = await time(async () => {
      acp.notify('session/cancel', { sessionId })
      return Promise.race([
        pending,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000)),
      ])
    })
    release()
    notes.push(
      cancelled
        ? `session/cancel: stopReason ${cancelled.stopReason} after ${fmt(cancelMs)}`
        : 'session/cancel: the prompt did not end within 20 s',
    )
    if (!cancelled) await pending.catch(() => undefined)
    const after = await promptTurn(acp, sessionId, 'What is 2 + 2?').catch((e: Error) => e)
    notes.push(
      after instanceof Error
        ? `after cancel: ${after.message}`
        : `after cancel: the session goes on (${JSON.stringify(after.said)})`,
    )
    if (!init.agentCapabilities?.loadSession) {
      notes.push('session/load: not offered')
      return { ok: true, notes }
    }
    notes.push(`permission requests seen: ${permissions.length}`)
    await acp.close()
    acp = new AcpExec(cid, spec.argv, { onRequest })
    await initialize(acp)
    try {
      notes.push(await loadSession(acp, sessionId, stub))
    } catch (err) {
      notes.push(`session/load in a new process failed: ${String(err).slice(0, 600)}`)
    }
    return { ok: true, notes }
  } catch (err) {
    notes.push(`failed: ${err instanceof Error ? err.message : String(err)}`)
    notes.push(`stderr: ${acp.stderr.slice(-1500).replace(/\s+/g, ' ')}`)
    return { ok: false, notes }
  } finally {
    await acp.close()
  }
}

/** `session/load` of an earlier process's session, then a turn that should carry its history. */
const loadSession = async (acp: AcpExec, sessionId: string, stub: StubModel) => {
  const replayed: string[] = []
  acp.listen((m) => {
    if (m.method === 'session/update')
      replayed.push(String((m.params?.update as { sessionUpdate?: string }).sessionUpdate))
  })
  const [loadMs] = await time(() =>
    acp.request('session/load', { sessionId, cwd: '/workspace', mcpServers: [] }),
  )
  stub.requests.length = 0
  const three = await promptTurn(acp, sessionId, 'What is 3 + 4?')
  const kept = stub.requestsWith('What is 3 + 4?').some((r) => r.text.includes('What is 1 + 2?'))
  return `session/load in a new process: ${fmt(loadMs)}, replayed ${replayed.length} updates; next turn ${JSON.stringify(three.said)}, earlier turns in its history: ${kept}`
}

/**
 * The service's own ACP path, where a plugin declares it (`<agent>-acp`): send_command with a
 * prompt, the first starting the agent, the rest continuing its session.
 */
const viaService = async (service: Service, plugin: string, spec: AcpAgent) => {
  if (!service.plugins().plugins.some((p) => p.name === plugin)) return undefined
  const config = service.parseConfig({ agent: plugin, env: spec.env ?? {}, labels: { bench: '1' } })
  const { workerId } = await service.create({ config })
  try {
    const first: number[] = []
    const warm: number[] = []
    let sessionId: string | undefined
    const [ms, r] = await time(() =>
      service.sendCommand({ workerId, prompt: 'What is 5 + 7?', timeoutMs: TIMEOUT_MS }),
    )
    first.push(ms)
    sessionId = r.reply?.sessionId
    for (let i = 0; i < N; i++) {
      const [t, answer] = await time(() =>
        service.sendCommand({
          workerId,
          prompt: 'What is 5 + 7?',
          timeoutMs: TIMEOUT_MS,
          ...(sessionId ? { sessionId } : {}),
        }),
      )
      if (answer.reply?.text !== '12') throw new Error(`${plugin} said ${answer.reply?.text}`)
      sessionId = answer.reply.sessionId
      warm.push(t)
    }
    return { first, warm }
  } finally {
    await service.delete({ workerId })
  }
}
