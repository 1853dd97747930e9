import { z } from 'zod'
import type { UpdatesHook } from './updates.ts'

/**
 * The zod schemas of the plugin contract, apiVersion v1, and every type derived from them. The
 * registry validates a plugin with these when it loads; the core validates what a hook returns
 * with these when it calls it (see `hooks.ts`).
 */

const NAME = /^[a-z][a-z0-9-]{0,62}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const PACKAGE = /^[A-Za-z0-9@][A-Za-z0-9@._/:=<>~^+-]*$/
const COMMAND = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const packageSpec = z.string().regex(PACKAGE, 'not a package spec')

/** One step baked into a derived image, run as root at build time, in order. */
export const installStepSchema = z.union([
  z.object({ apt: z.array(z.string().regex(PACKAGE, 'not a package name')).min(1) }).strict(),
  z.object({ npm: z.array(packageSpec).min(1) }).strict(),
  z.object({ pip: z.array(packageSpec).min(1) }).strict(),
  z.object({ run: z.string().min(1) }).strict(),
])
export type InstallStep = z.infer<typeof installStepSchema>

/**
 * A command-line tool installed from npm: its packages and the command it puts on PATH. The
 * image build installs the packages after the plugin's `install` steps, then runs
 * `<bin> --version`, so an image whose CLI does not start is never used.
 */
export const cliSchema = z
  .object({
    npm: z.union([packageSpec, z.array(packageSpec).min(1)]),
    bin: z.string().regex(COMMAND, 'not a command name'),
  })
  .strict()
export type Cli = z.input<typeof cliSchema>

/** A secret the plugin reads from the spawner's environment and injects into the worker. */
export const secretSchema = z
  .object({
    name: z.string().regex(ENV_NAME, 'not an environment variable name'),
    required: z.boolean().default(false),
    description: z.string().optional(),
  })
  .strict()
export type Secret = z.input<typeof secretSchema>

/**
 * The model API a CLI calls, brokered by the service's model gateway: the worker gets the
 * gateway's URL in `baseUrl` and a credential of its own in the first of `keys` that is set in
 * the spawner's environment; the gateway swaps in that key's real value and forwards to the
 * spawner's `baseUrl` (or `upstream`). The real key never enters the worker. A worker whose own
 * env sets `baseUrl` or one of `keys` opts out: it talks to its endpoint with its own key.
 */
export const gatewaySchema = z
  .object({
    /** Variables holding the model key, in preference order (e.g. `ANTHROPIC_API_KEY`). */
    keys: z.array(z.string().regex(ENV_NAME, 'not an environment variable name')).min(1),
    /** The variable naming the API's base URL (e.g. `ANTHROPIC_BASE_URL`). */
    baseUrl: z.string().regex(ENV_NAME, 'not an environment variable name'),
    /** The provider's own base URL, used when the spawner does not set `baseUrl`. */
    upstream: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http(s) URL without query')
      .optional(),
  })
  .strict()
export type Gateway = z.input<typeof gatewaySchema>

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
      .refine(
        (f) => !f.startsWith('/') && !f.split('/').includes('..'),
        "must be relative, without '..'",
      ),
    /** Where it goes in the worker: an absolute path or `~/…` (the worker's home). */
    target: z
      .string()
      .refine((t) => t.startsWith('/') || t.startsWith('~/'), 'must be absolute or start with ~/'),
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

const envName = z.string().regex(ENV_NAME, 'not an environment variable name')

/** Environment variables, as `prompt(req).env` returns them. */
export const envSchema = z.record(envName, z.string())

/** What `env(ctx)` returns: a variable whose value is undefined is left out. */
export const pluginEnvSchema = z.record(envName, z.string().optional())

/**
 * A file's content as `files(ctx)` returns it: text, written as is, or a JSON object or array,
 * which the core writes pretty-printed with a final newline.
 */
export const fileContentSchema = z.union([
  z.string(),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
])
export type FileContent = z.infer<typeof fileContentSchema>

/** What `files(ctx)` returns: a file whose content is undefined is not written. */
export const pluginFilesSchema = z.record(z.string(), fileContentSchema.optional())

/**
 * What an agent's `permissions(ctx)` returns: how its CLI asks before each tool call. `files`
 * (absolute paths outside the worker's home, workdir and /tmp) are written as root, mode 0644,
 * so the agent can read but never change its own hook config; `env` is set for its commands.
 * The hook runs `orchestrator permit` (stdin: the call as JSON; exit 0 allow, 2 deny).
 */
export const permissionsSetupSchema = z
  .object({
    files: z.record(z.string(), fileContentSchema).optional(),
    env: envSchema.optional(),
  })
  .strict()
export type PermissionsSetup = z.input<typeof permissionsSetupSchema>

/** What `permissions(ctx)` is told besides the plugin context. */
export type PermissionsContext = PluginContext & {
  /**
   * How long one request may wait for its answer (ms). A CLI that stops waiting for its hook
   * after a time of its own must wait longer than this (and a little): `orchestrator permit`
   * answers deny at the deadline itself.
   */
  timeoutMs: number
  /**
   * The command line a hook runs to ask: `orchestrator permit --format <format>` with a fixed
   * PATH, the service's address and nothing else of the environment, so nothing the agent can
   * change (a program earlier on PATH, `NODE_OPTIONS`, an `ORCHESTRATOR_URL` of its own) stands
   * in for it.
   */
  permitCommand: (format: string) => string
}

/** What plugin hooks are told about the worker being built (see `createContext`). */
export interface PluginContext {
  workerId: string
  workdir: string
  /** The spawner's own environment (read secrets and host paths from here). */
  hostEnv: Readonly<Record<string, string | undefined>>
  /** The WorkerConfig's env. */
  configEnv: Readonly<Record<string, string>>
  agent: string
  capabilities: readonly string[]
  /**
   * A setting: the WorkerConfig's env first, then the spawner's environment (a gateway or a
   * model set once for every worker); an empty value counts as unset.
   */
  setting: (name: string) => string | undefined
  /**
   * A setting that must be one of `allowed`: the first of them when unset. Anything else throws
   * an Error naming the setting and the choices, which refuses the worker.
   */
  choice: <const T extends string>(name: string, allowed: readonly [T, ...T[]]) => T
}

/** A prompt sent to an agent plugin. */
export interface PromptRequest {
  prompt: string
  sessionId?: string
  workdir: string
  env: Readonly<Record<string, string>>
  stream: boolean
  /**
   * `ask`: the worker's tool calls go through its permission policy (the CLI's hook, see the
   * plugin's `permissions`), so the CLI must not skip its permission checks; `skip` (default):
   * the container is the sandbox and the CLI may run every tool unasked.
   */
  permissions?: 'skip' | 'ask'
}

/**
 * Where the prompt goes: in `argv`, on `stdin`, or `auto`: on stdin when it is too large for one
 * argument (`MAX_ARGV_PROMPT_BYTES`), else in argv.
 */
export const promptViaSchema = z.enum(['argv', 'stdin', 'auto'])
export type PromptVia = z.infer<typeof promptViaSchema>

/** What `prompt(req)` is called with: the request, and where the core sends the prompt. */
export type PromptInput = PromptRequest & {
  /** `stdin`: leave the prompt out of argv; the core writes it to the CLI's stdin. */
  via: 'argv' | 'stdin'
}

/** The headless command line an agent plugin asks for. */
export const promptCommandSchema = z
  .object({
    argv: z.array(z.string()).min(1),
    env: envSchema.optional(),
    stdin: z.string().optional(),
  })
  .strict()
export type PromptCommand = z.input<typeof promptCommandSchema>

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

/**
 * What `parse` returns when the CLI gave no result (see `noResult`): the core then writes why,
 * from the timeout, the exit code and what the CLI printed, with `detail` when there is one.
 */
export const noResultSchema = z
  .object({ noResult: z.literal(true), detail: z.string().optional() })
  .strict()
export type NoResult = z.infer<typeof noResultSchema>

const hook = <F extends (...args: never[]) => unknown>(signature: string) =>
  z.custom<F>((v) => typeof v === 'function', `must be a function (${signature})`)

type Ctx = PluginContext

const common = {
  apiVersion: z.literal('v1', { error: "must be 'v1'" }),
  name: z.string().regex(NAME, 'lower-case letters, digits and dashes, starting with a letter'),
  version: z.string().min(1),
  description: z.string().min(1),
  /** Other plugins a WorkerConfig must include with this one. */
  requires: z.array(z.string().regex(NAME)).default([]),
  /** Steps baked into a derived image (apt | npm | pip | run), before `cli`. */
  install: z.array(installStepSchema).default([]),
  /** A CLI from npm; its `<bin> --version` check is generated. */
  cli: cliSchema.optional(),
  secrets: z.array(secretSchema).default([]),
  /** The model API its CLI calls, reached through the service's gateway (see `gatewaySchema`). */
  gateway: gatewaySchema.optional(),
  /** Files copied from the spawner's host into every worker (see `hostFileSchema`). */
  hostFiles: z.array(hostFileSchema).default([]),
  /** Variables set in the worker (a secret or the config's env wins); undefined ones are left out. */
  env: hook<(ctx: Ctx) => Record<string, string | undefined>>(
    'env(ctx) → Record<string, string | undefined>',
  ).optional(),
  mounts: hook<(ctx: Ctx) => Mount[]>('mounts(ctx) → Mount[]').optional(),
  container: hook<(ctx: Ctx) => ContainerTweak>('container(ctx) → ContainerTweak').optional(),
  /**
   * Files written into the worker before its first command (CLI config: provider URLs, models,
   * settings). Keys are absolute paths or `~/…` for the worker's home; written as uid 1000,
   * mode 0600. A value is text, or an object the core writes as JSON; an undefined one is not
   * written. Called with the worker's
   * config env, so a user behind a model gateway sets e.g. `ANTHROPIC_BASE_URL` in `env` and
   * the CLI's config follows.
   */
  files: hook<(ctx: Ctx) => Record<string, FileContent | undefined>>(
    'files(ctx) → Record<path, string | object>',
  ).optional(),
}

export const agentPluginSchema = z
  .object({
    ...common,
    kind: z.literal('agent'),
    /** Where the prompt goes (default `argv`); `prompt(req)` is told in `req.via`. */
    promptVia: promptViaSchema.default('argv'),
    /** Output lines that say nothing (start-up notices), left out of a failure message. */
    noise: z.instanceof(RegExp).optional(),
    prompt: hook<(req: PromptInput) => PromptCommand>('prompt(req) → { argv, env?, stdin? }'),
    /**
     * The agent's progress in the common vocabulary (ACP session updates, see `updates.ts`):
     * called with each JSON line of the CLI's stdout while a prompt runs.
     */
    updates: hook<UpdatesHook>('updates(line, turn) → AgentUpdate[]').optional(),
    /**
     * How its CLI asks before running a tool (see `permissionsSetupSchema`); called for workers
     * whose config asks. An agent without it cannot ask: such a worker is refused at create.
     */
    permissions: hook<(ctx: PermissionsContext) => PermissionsSetup>(
      'permissions(ctx) → { files?, env? }',
    ).optional(),
    parse: hook<(result: ExecOutcome) => Reply | NoResult>(
      'parse(result) → { text, sessionId?, usage?, raw } or noResult()',
    ),
  })
  .strict()

export const capabilityPluginSchema = z
  .object({ ...common, kind: z.literal('capability') })
  .strict()

export const pluginSchema = z.discriminatedUnion(
  'kind',
  [agentPluginSchema, capabilityPluginSchema],
  { error: "kind must be 'agent' or 'capability'" },
)

/** An agent plugin, as `defineAgent` returns it (the registry fills in the defaults). */
export type AgentPlugin = z.input<typeof agentPluginSchema>
/** A capability plugin, as `defineCapability` returns it. */
export type CapabilityPlugin = z.input<typeof capabilityPluginSchema>
export type Plugin = AgentPlugin | CapabilityPlugin

/** What a plugin author writes for an agent CLI. */
export type AgentDefinition = Omit<AgentPlugin, 'kind'>
/** What a plugin author writes for a capability. */
export type CapabilityDefinition = Omit<CapabilityPlugin, 'kind'>
