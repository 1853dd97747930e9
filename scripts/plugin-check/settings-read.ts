import { workerConfigSchema } from '../../src/core/config.ts'
import type { Plugin, PluginContext } from '../../src/core/plugin/contract.ts'
import { agentPrompt } from '../../src/core/plugin/hooks.ts'
import { pluginContext } from '../../src/core/spec.ts'

/** Names a plugin may read that are the system's, not its own settings. */
const SYSTEM = new Set([
  'HOME',
  'PATH',
  'USER',
  'SHELL',
  'TERM',
  'LANG',
  'PWD',
  'TMPDIR',
  'HOSTNAME',
])
const SETTING = /^[A-Z][A-Z0-9_]*$/

/** Values each read gets, one pass each: unset, then set (a hook may read more when a value is set). */
const PASSES: ((name: string) => string | undefined)[] = [
  () => undefined,
  () => '1',
  (name) => (/URL/.test(name) ? 'http://stub.invalid:1/v1' : 'stub-value'),
]

/** An environment that records, in order, every name read from it. */
const recording = (read: string[], value: (name: string) => string | undefined) =>
  new Proxy({} as Record<string, string>, {
    get: (_target, key) => {
      if (typeof key !== 'string') return undefined
      read.push(key)
      return value(key)
    },
    has: (_target, key) => {
      if (typeof key !== 'string') return false
      read.push(key)
      return value(key) !== undefined
    },
  })

/** One way of calling a hook, given the environments it reads. */
type HookCall = (env: {
  host: Record<string, string>
  config: Record<string, string>
  prompt: Record<string, string>
}) => unknown

/** The hooks of a plugin, each as a call that builds its own context. */
const hookCalls = (plugin: Plugin): HookCall[] => {
  const calls: HookCall[] = []
  for (const hook of ['env', 'files', 'mounts', 'container'] as const) {
    const fn = plugin[hook] as ((c: PluginContext) => unknown) | undefined
    if (!fn) continue
    calls.push((e) =>
      fn(
        pluginContext(
          { ...workerConfigSchema.parse({ agent: plugin.name }), env: e.config },
          'w-check',
          e.host,
        ),
      ),
    )
  }
  // An ACP agent has no prompt command: its prompts go to its process.
  if (plugin.kind === 'agent' && !plugin.acp) {
    for (const sessionId of [undefined, 'session-1']) {
      for (const stream of [false, true]) {
        calls.push((e) =>
          agentPrompt(plugin, {
            prompt: 'What is 1 + 2?',
            workdir: '/workspace',
            env: e.prompt,
            stream,
            ...(sessionId ? { sessionId } : {}),
          }),
        )
      }
    }
  }
  return calls
}

/**
 * Calls `call` until it stops throwing: a hook often refuses a made-up value (an enum, a URL), so
 * after each throw the last name it read that still had a value is left unset, and it runs again.
 * Every name read on the way is added to `seen`.
 */
const explore = (
  call: HookCall,
  value: (name: string) => string | undefined,
  seen: Set<string>,
) => {
  const unset = new Set<string>()
  for (let round = 0; round < 32; round++) {
    const read: string[] = []
    const v = (name: string) => (unset.has(name) ? undefined : value(name))
    let threw = false
    try {
      call({ host: recording(read, v), config: recording(read, v), prompt: recording(read, v) })
    } catch {
      threw = true
    }
    for (const name of read) seen.add(name)
    const next = threw ? read.findLast((n) => !unset.has(n) && value(n) !== undefined) : undefined
    if (!next) return
    unset.add(next)
  }
}

/**
 * The settings a plugin reads: its declared secrets, the host directories of its `hostFiles`,
 * and every variable its hooks read from the spawner's environment, the WorkerConfig's env or a
 * prompt's env. Found by calling each hook with environments that record what is read: with
 * nothing set, then with values set (a hook may read more when a value is set).
 */
export const settingsOf = (plugin: Plugin): string[] => {
  const seen = new Set<string>()
  for (const s of plugin.secrets ?? []) seen.add(s.name)
  for (const f of plugin.hostFiles ?? []) seen.add(f.fromEnv)
  for (const call of hookCalls(plugin)) for (const value of PASSES) explore(call, value, seen)
  return [...seen].filter((n) => SETTING.test(n) && !SYSTEM.has(n)).sort()
}

/** The settings `readme` does not name (as a whole word). */
export const unnamedIn = (readme: string, settings: readonly string[]): string[] =>
  settings.filter((name) => !new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`).test(readme))
