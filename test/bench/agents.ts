import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { agentPrompt, type AgentPlugin } from '../../src/core/plugin/contract.ts'
import type { WorkerService } from '../../src/core/service.ts'
import { StubModel, type ProviderHandler } from '../support/stub-model/server.ts'
import { anthropic } from '../support/stub-model/anthropic.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'
import { openaiResponses } from '../support/stub-model/openai-responses.ts'
import { gemini } from '../support/stub-model/gemini.ts'
import { compare } from './stats.ts'

const run = promisify(execFile)

/** Agents the bench can drive against the stub, with the env that points them at it. */
const AGENTS: Record<
  string,
  { providers: ProviderHandler[]; env: (base: string) => Record<string, string> }
> = {
  'claude-code': {
    providers: [anthropic],
    env: (base) => ({ ANTHROPIC_BASE_URL: base, ANTHROPIC_API_KEY: 'stub-key' }),
  },
  codex: {
    providers: [openaiResponses],
    env: (base) => ({ OPENAI_BASE_URL: `${base}/v1`, OPENAI_API_KEY: 'stub-key' }),
  },
  'gemini-cli': {
    providers: [gemini],
    env: (base) => ({
      GOOGLE_GEMINI_BASE_URL: base,
      GEMINI_API_KEY: 'stub-key',
      GEMINI_MAX_ATTEMPTS: '1',
    }),
  },
  opencode: {
    providers: [openaiChat],
    env: (base) => ({
      OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
      OPENCODE_MODEL: 'stub-model',
      OPENCODE_PROVIDER_API_KEY: 'stub-key',
    }),
  },
  'factory-droid': {
    providers: [openaiChat],
    env: (base) => ({
      FACTORY_MODEL_BASE_URL: `${base}/v1`,
      FACTORY_MODEL: 'stub-model',
      FACTORY_MODEL_NAME: 'Stub Model',
      FACTORY_MODEL_API_KEY: 'stub-key',
    }),
  },
}

const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

/**
 * Prompt round trip through the service (send_command with `prompt`, parsed reply) against the
 * same CLI run with `docker exec` in the same worker, alternating, same stub.
 */
export const benchAgents = async (service: WorkerService, names: string[], n: number) => {
  const rows = []
  for (const name of names) {
    const spec = AGENTS[name]
    if (!spec)
      throw new Error(
        `no bench setup for agent '${name}' (known: ${Object.keys(AGENTS).join(', ')})`,
      )
    const stub = new StubModel(spec.providers)
    await stub.start()
    try {
      // The CLI talks to the stub model on the host: the worker needs the open network.
      const config = service.parseConfig({
        agent: name,
        network: 'open',
        env: spec.env(stub.urlForContainers()),
        labels: { bench: '1' },
      })
      const { workerId } = await service.create({ config })
      const record = await service.get(workerId)
      const plugin = service.plugins().plugins.find((p) => p.name === name)
      if (!plugin) throw new Error(`agent '${name}' is not loaded`)
      const agent = (await import(`../../plugins/${name}/index.ts`)).default as AgentPlugin
      const cmd = agentPrompt(agent, {
        prompt: 'What is 5 + 7?',
        workdir: '/workspace',
        env: {},
        stream: false,
      })
      const envArgs = Object.entries(cmd.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`])
      const ours: number[] = []
      const raw: number[] = []
      await service.sendCommand({ workerId, prompt: 'What is 1 + 1?', timeoutMs: 120_000 }) // warm-up
      for (let i = 0; i < n; i++) {
        ours.push(
          await time(() =>
            service.sendCommand({ workerId, prompt: 'What is 5 + 7?', timeoutMs: 120_000 }),
          ),
        )
        raw.push(
          await time(() => {
            const stdinArgs = cmd.stdin === undefined ? [] : ['-i']
            const p = run('docker', [
              'exec',
              ...stdinArgs,
              '-w',
              '/workspace',
              ...envArgs,
              record.containerId,
              ...cmd.argv,
            ])
            p.child.stdin?.end(cmd.stdin ?? '')
            return p
          }),
        )
      }
      rows.push(
        compare(
          `prompt round trip, ${name} (send_command prompt vs docker exec of the same CLI)`,
          ours,
          raw,
          'docker exec',
        ),
      )
      await service.delete({ workerId })
    } finally {
      await stub.stop()
    }
  }
  return rows
}
