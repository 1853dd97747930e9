import { z } from 'zod'
import { BadRequestError } from '../errors.ts'
import { describeIssues } from '../validation.ts'
import { MAX_ARGV_PROMPT_BYTES } from './kit.ts'
import { agentUpdateSchema, type AgentUpdate } from './updates.ts'
import {
  containerTweakSchema,
  mountSchema,
  noResultSchema,
  permissionsSetupSchema,
  pluginEnvSchema,
  pluginFilesSchema,
  promptCommandSchema,
  replySchema,
  type AgentPlugin,
  type ExecOutcome,
  type InstallStep,
  type Plugin,
  type PermissionsContext,
  type PluginContext,
  type PromptRequest,
  type PromptVia,
  type Reply,
} from './schema.ts'

/**
 * How the core calls a plugin: every hook's result is validated with zod at the call, and a bad
 * one is refused with an error that names the plugin and the hook. The error says where the
 * result is wrong and why, never what it holds: an env value or a file may carry a key.
 */

/** A plugin hook that threw, or returned what the contract does not allow. */
export const pluginFault = (plugin: string, hook: string, reason: string): BadRequestError =>
  new BadRequestError(`plugin '${plugin}' ${hook}(): ${reason}`, undefined, 'plugin_error')

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))

const invalid = (error: z.ZodError) =>
  `returned an invalid result (${describeIssues(error)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ')})`

const call = <S extends z.ZodType>(
  plugin: { name: string },
  hook: string,
  schema: S,
  run: () => unknown,
): z.output<S> => {
  let value: unknown
  try {
    value = run()
  } catch (err) {
    throw pluginFault(plugin.name, hook, message(err))
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw pluginFault(plugin.name, hook, invalid(parsed.error))
  return parsed.data
}

const own = (env: Readonly<Record<string, string | undefined>>, name: string) => {
  const value = Object.hasOwn(env, name) ? env[name] : undefined
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The context plugin hooks get, with its setting readers (config env, then the spawner's). */
export const createContext = (init: Omit<PluginContext, 'setting' | 'choice'>): PluginContext => {
  const setting = (name: string) => own(init.configEnv, name) ?? own(init.hostEnv, name)
  const choice = <const T extends string>(name: string, allowed: readonly [T, ...T[]]): T => {
    const value = setting(name) ?? allowed[0]
    if ((allowed as readonly string[]).includes(value)) return value as T
    throw new Error(`${name} must be one of ${allowed.join(', ')}, not '${value}'`)
  }
  return { ...init, setting, choice }
}

/** Drops the entries whose value is undefined. */
const defined = <T>(record: Record<string, T | undefined>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Record<string, T>

/** `env(ctx)`, validated (names a shell accepts, string values), without undefined values. */
export const pluginEnv = (plugin: Plugin, ctx: PluginContext): Record<string, string> => {
  if (!plugin.env) return {}
  return defined(call(plugin, 'env', pluginEnvSchema.optional(), () => plugin.env!(ctx)) ?? {})
}

/** `mounts(ctx)`, validated, with defaults filled in. */
export const pluginMounts = (plugin: Plugin, ctx: PluginContext) => {
  if (!plugin.mounts) return []
  return call(plugin, 'mounts', mountSchema.array().optional(), () => plugin.mounts!(ctx)) ?? []
}

/** `container(ctx)`, validated; undefined when the plugin asks for nothing. */
export const pluginTweak = (plugin: Plugin, ctx: PluginContext) =>
  plugin.container
    ? call(plugin, 'container', containerTweakSchema.optional(), () => plugin.container!(ctx))
    : undefined

/**
 * `files(ctx)`, validated, each content as the bytes to write: text as is, an object as JSON
 * (two-space indent, final newline). Keys are as the plugin gave them (`~/…` or absolute).
 */
export const pluginFileContents = (plugin: Plugin, ctx: PluginContext): Record<string, string> => {
  if (!plugin.files) return {}
  const files = call(plugin, 'files', pluginFilesSchema.optional(), () => plugin.files!(ctx)) ?? {}
  return Object.fromEntries(
    Object.entries(defined(files)).map(([path, content]) => {
      if (typeof content === 'string') return [path, content]
      try {
        return [path, `${JSON.stringify(content, null, 2)}\n`]
      } catch (err) {
        throw pluginFault(plugin.name, 'files', `'${path}' is not JSON: ${message(err)}`)
      }
    }),
  )
}

/** Directories the worker user can change: a hook file there could be swapped by the agent. */
const WRITABLE = ['/home', '/tmp', '/var/tmp', '/workspace', '/dev/shm', '/run/user']

/**
 * `permissions(ctx)`, validated: the files (as text) and env that make the agent's CLI ask
 * before each tool call; undefined when the plugin has no way to ask. Each file must lie outside
 * the directories the worker can change (`workdir` too), or the agent could edit its own hook.
 */
export const pluginPermissions = (
  agent: AgentPlugin,
  ctx: PermissionsContext,
): { files: Record<string, string>; env: Record<string, string> } | undefined => {
  if (!agent.permissions) return undefined
  const setup = call(agent, 'permissions', permissionsSetupSchema, () => agent.permissions!(ctx))
  const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`)
  const files = Object.entries(setup.files ?? {}).map(([path, content]) => {
    const normal = path.replace(/\/+$/, '')
    if (!normal.startsWith('/') || normal.split('/').includes('..'))
      throw pluginFault(agent.name, 'permissions', `'${path}' must be absolute, without '..'`)
    const writable = [...WRITABLE, ctx.workdir.replace(/\/+$/, '')].find((d) => within(normal, d))
    if (writable)
      throw pluginFault(
        agent.name,
        'permissions',
        `'${path}' is under ${writable}, which the worker can change`,
      )
    return [normal, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`]
  })
  return { files: Object.fromEntries(files), env: setup.env ?? {} }
}

/** The plugin's install steps with its `cli` appended: the npm packages, then `<bin> --version`. */
export const pluginInstallSteps = (plugin: Pick<Plugin, 'install' | 'cli'>): InstallStep[] => {
  const { cli } = plugin
  if (!cli) return plugin.install ?? []
  const npm = typeof cli.npm === 'string' ? [cli.npm] : cli.npm
  return [...(plugin.install ?? []), { npm }, { run: `${cli.bin} --version` }]
}

/** Where a prompt goes for a plugin's `promptVia` (default `argv`). */
export const promptDelivery = (via: PromptVia | undefined, prompt: string): 'argv' | 'stdin' => {
  if (via !== 'auto') return via ?? 'argv'
  return new TextEncoder().encode(prompt).length > MAX_ARGV_PROMPT_BYTES ? 'stdin' : 'argv'
}

/**
 * The command for a prompt: `prompt(req)` told where the prompt goes, validated; a prompt sent
 * `via: 'stdin'` is the command's stdin unless the plugin gave one of its own.
 */
export const agentPrompt = (agent: AgentPlugin, req: PromptRequest) => {
  const via = promptDelivery(agent.promptVia, req.prompt)
  const cmd = call(agent, 'prompt', promptCommandSchema, () => agent.prompt({ ...req, via }))
  return via === 'stdin' && cmd.stdin === undefined ? { ...cmd, stdin: req.prompt } : cmd
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g
const STACK_FRAME = /^\s+at /

/** What a CLI printed, in a few lines: no colour codes, stack frames or the plugin's noise. */
const gist = (text: string, noise: RegExp | undefined, max = 500): string => {
  const said = text
    .replace(ANSI, '')
    .split('\n')
    .filter((l) => l.trim() && !STACK_FRAME.test(l) && !noise?.test(l))
    .join('\n')
    .trim()
  return said.length > max ? `…${said.slice(-max)}` : said
}

/** Why a run gave no result, in one message: the timeout, or the exit code and what was said. */
export const noResultMessage = (
  cli: string,
  out: ExecOutcome,
  detail?: string,
  noise?: RegExp,
): string => {
  if (out.timedOut) {
    return `${cli} timed out after ${out.durationMs} ms without a result${detail ? `: ${detail}` : ''}`
  }
  const said = detail || gist(out.stderr, noise) || gist(out.stdout, noise) || 'no output'
  return `${cli} exited ${out.exitCode} without a result: ${said}`
}

/**
 * The reply to a run: `parse(result)`, validated (an empty `sessionId` or `usage` is left out). A `noResult()` becomes an Error whose message
 * the core writes (see `noResultMessage`); an Error `parse` throws (the CLI reported a failure)
 * passes through as it is.
 */
export const agentReply = (agent: AgentPlugin, out: ExecOutcome): Reply => {
  const value = agent.parse(out)
  const said = typeof value === 'object' && value !== null && 'noResult' in value
  const parsed = said ? noResultSchema.safeParse(value) : replySchema.safeParse(value)
  if (!parsed.success) throw pluginFault(agent.name, 'parse', invalid(parsed.error))
  if ('noResult' in parsed.data) {
    const cli = agent.cli?.bin ?? agent.name
    throw new Error(noResultMessage(cli, out, parsed.data.detail, agent.noise))
  }
  // A reply without a session id or usage leaves the key out; `undefined` is the same.
  const { sessionId, usage, ...reply } = parsed.data
  return { ...reply, ...(sessionId ? { sessionId } : {}), ...(usage ? { usage } : {}) }
}

/**
 * `updates(line, turn)`, validated: the updates one line of the CLI's output stands for. A hook
 * that throws or returns what the schema refuses is the plugin's fault, named like any other;
 * the caller drops that line's updates and the prompt goes on.
 */
export const agentUpdates = (
  agent: AgentPlugin,
  line: Record<string, unknown>,
  turn: Record<string, unknown>,
): AgentUpdate[] => {
  if (!agent.updates) return []
  return (
    call(agent, 'updates', agentUpdateSchema.array().optional(), () =>
      agent.updates!(line, turn),
    ) ?? []
  )
}
