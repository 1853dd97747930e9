import { z } from 'zod'

/**
 * The plugin contract, apiVersion v1. A plugin is a folder `plugins/<name>/` whose `index.ts`
 * default-exports the result of `defineAgent()` or `defineCapability()`. This file is the only
 * module a plugin imports (`import { defineAgent } from 'workers-spawner/plugin'`).
 */

const NAME = /^[a-z][a-z0-9-]{0,62}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const PACKAGE = /^[A-Za-z0-9@][A-Za-z0-9@._/:=<>~^+-]*$/

/** One step baked into a derived image, run as root at build time, in order. */
export const installStepSchema = z.union([
  z.object({ apt: z.array(z.string().regex(PACKAGE, 'not a package name')).min(1) }).strict(),
  z.object({ npm: z.array(z.string().regex(PACKAGE, 'not a package spec')).min(1) }).strict(),
  z.object({ pip: z.array(z.string().regex(PACKAGE, 'not a package spec')).min(1) }).strict(),
  z.object({ run: z.string().min(1) }).strict(),
])
export type InstallStep = z.infer<typeof installStepSchema>

/** A secret the plugin reads from the spawner's environment and injects into the worker. */
export const secretSchema = z
  .object({
    name: z.string().regex(ENV_NAME, 'not an environment variable name'),
    required: z.boolean().default(false),
    description: z.string().optional(),
  })
  .strict()
export type Secret = z.input<typeof secretSchema>

/** A bind mount from the host into the worker. */
export const mountSchema = z
  .object({
    source: z.string().startsWith('/', 'must be an absolute host path'),
    target: z.string().startsWith('/', 'must be an absolute container path'),
    readOnly: z.boolean().default(false),
  })
  .strict()
export type Mount = z.input<typeof mountSchema>

/**
 * A file copied from the spawner's host into each worker at create, e.g. a CLI's login. The
 * directory is named by an environment variable the operator sets (never by a worker's config),
 * and the copy is the worker's own: nothing it writes reaches the host or another worker.
 */
export const hostFileSchema = z
  .object({
    /** The spawner environment variable holding a host directory, e.g. `HOST_CLAUDE_DIR`. */
    fromEnv: z.string().regex(ENV_NAME, 'not an environment variable name'),
    /** The file inside that directory. */
    file: z
      .string()
      .min(1)
      .refine((f) => !f.startsWith('/') && !f.split('/').includes('..'), "must be relative, without '..'"),
    /** Where it goes in the worker: an absolute path or `~/…` (the worker's home). */
    target: z.string().refine((t) => t.startsWith('/') || t.startsWith('~/'), 'must be absolute or start with ~/'),
    mode: z.number().int().min(0).max(0o777).default(0o600),
  })
  .strict()
export type HostFile = z.input<typeof hostFileSchema>

/** Runtime tweaks a plugin may ask for. Privileged mode is deliberately not among them. */
export const containerTweakSchema = z
  .object({
    runtime: z.string().min(1).optional(),
    capAdd: z.array(z.string()).optional(),
    shmSizeMb: z.number().int().positive().optional(),
  })
  .strict()
export type ContainerTweak = z.input<typeof containerTweakSchema>

/** What a plugin's hooks are told about the worker being built. */
export interface PluginContext {
  workerId: string
  workdir: string
  /** The spawner's own environment (read secrets and host paths from here). */
  hostEnv: Readonly<Record<string, string | undefined>>
  /** The WorkerConfig's env. */
  configEnv: Readonly<Record<string, string>>
  agent: string
  capabilities: readonly string[]
}

/** A prompt sent to an agent plugin. */
export interface PromptRequest {
  prompt: string
  sessionId?: string
  workdir: string
  env: Readonly<Record<string, string>>
  stream: boolean
}

/** The headless command line an agent plugin asks for. */
export interface PromptCommand {
  argv: string[]
  env?: Record<string, string>
  stdin?: string
}

/** The result of running a command in a worker. */
export interface ExecOutcome {
  exitCode: number
  stdout: string
  stderr: string
  timedOut: boolean
  durationMs: number
}

export const usageSchema = z
  .object({
    inputTokens: z.number().optional(),
    outputTokens: z.number().optional(),
    costUsd: z.number().optional(),
  })
  .catchall(z.unknown())

/** An agent's parsed reply. */
export const replySchema = z.object({
  text: z.string(),
  sessionId: z.string().optional(),
  usage: usageSchema.optional(),
  raw: z.unknown(),
})
export type Reply = z.infer<typeof replySchema>

const fn = (what: string) =>
  z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', `must be a function (${what})`)

const common = {
  apiVersion: z.literal('v1', { error: "must be 'v1'" }),
  name: z.string().regex(NAME, 'lower-case letters, digits and dashes, starting with a letter'),
  version: z.string().min(1),
  description: z.string().min(1),
  requires: z.array(z.string().regex(NAME)).default([]),
  install: z.array(installStepSchema).default([]),
  secrets: z.array(secretSchema).default([]),
  hostFiles: z.array(hostFileSchema).default([]),
  env: fn('env(ctx) → Record<string, string>').optional(),
  mounts: fn('mounts(ctx) → Mount[]').optional(),
  container: fn('container(ctx) → ContainerTweak').optional(),
  files: fn('files(ctx) → Record<path, string>').optional(),
}

export const agentPluginSchema = z
  .object({
    ...common,
    kind: z.literal('agent'),
    prompt: fn('prompt(req) → { argv, env?, stdin? }'),
    parse: fn('parse(result) → { text, sessionId?, usage?, raw }'),
  })
  .strict()

export const capabilityPluginSchema = z
  .object({ ...common, kind: z.literal('capability') })
  .strict()

export const pluginSchema = z.discriminatedUnion('kind', [agentPluginSchema, capabilityPluginSchema], {
  error: "kind must be 'agent' or 'capability'",
})

interface PluginBase {
  apiVersion: 'v1'
  name: string
  version: string
  description: string
  requires?: string[]
  install?: InstallStep[]
  secrets?: Secret[]
  /** Files copied from the spawner's host into every worker (see `hostFileSchema`). */
  hostFiles?: HostFile[]
  env?: (ctx: PluginContext) => Record<string, string>
  mounts?: (ctx: PluginContext) => Mount[]
  container?: (ctx: PluginContext) => ContainerTweak
  /**
   * Files written into the worker before its first command (CLI config: provider URLs, models,
   * settings). Keys are absolute paths or `~/…` for the worker's home; written as uid 1000,
   * mode 0600. Called with the worker's config env, so a user behind a model gateway sets
   * e.g. `ANTHROPIC_BASE_URL` in `env` and the CLI's config follows.
   */
  files?: (ctx: PluginContext) => Record<string, string>
}

/** What a plugin author writes for an agent CLI. */
export interface AgentDefinition extends PluginBase {
  prompt: (req: PromptRequest) => PromptCommand
  parse: (result: ExecOutcome) => Reply
}

/** What a plugin author writes for a capability. */
export type CapabilityDefinition = PluginBase

export type AgentPlugin = AgentDefinition & { kind: 'agent' }
export type CapabilityPlugin = CapabilityDefinition & { kind: 'capability' }
export type Plugin = AgentPlugin | CapabilityPlugin

/**
 * Declares an agent plugin.
 * @example
 * export default defineAgent({
 *   apiVersion: 'v1', name: 'my-cli', version: '1.0.0', description: 'My CLI',
 *   install: [{ npm: ['my-cli@1.0.0'] }],
 *   prompt: (req) => ({ argv: ['my-cli', '-p', req.prompt] }),
 *   parse: (r) => ({ text: r.stdout.trim(), raw: r.stdout }),
 * })
 */
export const defineAgent = (def: AgentDefinition): AgentPlugin => ({ ...def, kind: 'agent' })

/**
 * Declares a capability plugin.
 * @example
 * export default defineCapability({
 *   apiVersion: 'v1', name: 'jq', version: '1.0.0', description: 'jq JSON processor',
 *   install: [{ apt: ['jq'] }],
 * })
 */
export const defineCapability = (def: CapabilityDefinition): CapabilityPlugin => ({
  ...def,
  kind: 'capability',
})
