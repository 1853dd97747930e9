import { z } from 'zod'

/**
 * What a worker's agent may do without asking: the `permissions` of a WorkerConfig, the rules
 * that decide one tool call, and how a sub-worker's rules are kept no wider than its parent's.
 * The service evaluates them (never the container): the agent's CLI only reports the call.
 */

/** A pattern: `*` any characters (`/` included), `?` one; anything else is itself. */
const globSchema = z.string().min(1).max(1000)

/** One rule: a tool (exact name or glob) and, optionally, what the call acts on. */
export const permissionRuleSchema = z
  .object({
    tool: globSchema.describe("tool name or glob, e.g. 'Bash', 'mcp__*', '*'"),
    path: globSchema
      .optional()
      .describe("glob on the call's file path, command or URL, e.g. '/workspace/*', 'git *'"),
  })
  .strict()
export type PermissionRule = z.infer<typeof permissionRuleSchema>

const rules = z.array(permissionRuleSchema).max(256).default([])

/** What a policy says of one call. */
export const permissionVerdictSchema = z.enum(['allow', 'ask', 'deny'])
export type PermissionVerdict = z.infer<typeof permissionVerdictSchema>

/** Who answers a worker's requests: the operator, or (a sub-worker's) the parent agent. */
export const approverSchema = z.enum(['operator', 'parent'])
export type Approver = z.infer<typeof approverSchema>

export const permissionPolicySchema = z
  .object({
    default: permissionVerdictSchema.default('ask').describe('for a call no rule matches'),
    allow: rules,
    ask: rules,
    deny: rules,
    timeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(7 * 86_400_000)
      .optional()
      .describe('unanswered requests are denied after this long (bounded by the operator)'),
    approver: approverSchema
      .default('operator')
      .describe("'parent': a sub-worker's requests go to the agent that spawned it"),
  })
  .strict()
export type PermissionPolicy = z.output<typeof permissionPolicySchema>

/**
 * `WorkerConfig.permissions`: `'skip'` (the agent runs every tool; nothing asks), `'ask'`
 * (every tool call waits for an answer), or a policy.
 */
export const permissionsSchema = z
  .union([z.enum(['skip', 'ask']), permissionPolicySchema], {
    // A union names no field of its own: say what is wrong inside the policy, where it is.
    error: (issue) => {
      const inPolicy = issue.code === 'invalid_union' ? issue.errors[1]?.[0] : undefined
      if (typeof issue.input !== 'object' || issue.input === null || !inPolicy)
        return "must be 'skip', 'ask' or a policy object"
      return `${inPolicy.path.join('.') || '(policy)'}: ${inPolicy.message}`
    },
  })
  .describe(
    "'skip': tools run unasked (the container is the sandbox); 'ask': every tool call waits " +
      "for an answer (POST /v1/workers/:id/permissions/:requestId); a policy: { default: 'ask', " +
      "allow: [{ tool: 'Read' }], deny: [{ tool: 'Bash', path: 'rm *' }], timeoutMs, approver }. " +
      "Unset: the operator's default (PERMISSIONS_MIN), a sub-worker's parent's rules",
  )
export type PermissionsConfig = z.output<typeof permissionsSchema>

/** One layer of rules, without the settings that only the worker's own layer has. */
export const permissionLayerSchema = z
  .object({ default: permissionVerdictSchema, allow: rules, ask: rules, deny: rules })
  .strict()
export type PermissionLayer = z.output<typeof permissionLayerSchema>

/** What the operator bounds every worker with (spawner settings). */
export interface PermissionBounds {
  /** `ask`: no worker may skip permissions (an unset config asks). */
  min: 'skip' | 'ask'
  /** Always denied, whatever a worker's policy says. */
  deny: PermissionRule[]
  /** An unanswered request's time when the worker names none. */
  defaultTimeoutMs: number
  /** The longest a worker's requests may wait. */
  maxTimeoutMs: number
}

export const DEFAULT_PERMISSION_BOUNDS: PermissionBounds = {
  min: 'skip',
  deny: [],
  defaultTimeoutMs: 5 * 60_000,
  maxTimeoutMs: 60 * 60_000,
}

/** A glob as a RegExp (`*` any characters, `?` one). */
const globRe = (glob: string) =>
  new RegExp(
    `^${glob
      .split('')
      .map((c) =>
        c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'),
      )
      .join('')}$`,
  )

/** Fields of a tool call's input that say what it acts on, most specific first. */
const SUBJECT_FIELDS = ['file_path', 'notebook_path', 'path', 'command', 'url', 'pattern']

/** What a tool call acts on (a file path, a command, a URL), when its input says. */
export const subjectOf = (input: unknown): string | undefined => {
  if (typeof input !== 'object' || input === null) return undefined
  for (const field of SUBJECT_FIELDS) {
    const v = (input as Record<string, unknown>)[field]
    if (typeof v === 'string' && v !== '') return v
  }
  return undefined
}

/** True when `rule` matches a call of `tool` acting on `subject`. */
export const ruleMatches = (rule: PermissionRule, tool: string, subject: string | undefined) =>
  globRe(rule.tool).test(tool) &&
  (rule.path === undefined || (subject !== undefined && globRe(rule.path).test(subject)))

/** What one layer says of a call: deny rules first, then ask, then allow, then its default. */
export const layerVerdict = (
  layer: PermissionLayer,
  tool: string,
  subject: string | undefined,
): PermissionVerdict => {
  const hit = (list: PermissionRule[]) => list.some((r) => ruleMatches(r, tool, subject))
  if (hit(layer.deny)) return 'deny'
  if (hit(layer.ask)) return 'ask'
  if (hit(layer.allow)) return 'allow'
  return layer.default
}

/** What the service keeps of a worker that asks: its rules, and those it inherited. */
export const permissionSetupSchema = z
  .object({
    own: permissionLayerSchema,
    /** The rules of every worker above it, at its create: they bind it too. */
    inherited: z.array(permissionLayerSchema).max(16),
    /** "Always" answers of the operator: they allow what any layer would ask for. */
    granted: z.array(permissionRuleSchema).max(256),
    approver: approverSchema,
    timeoutMs: z.number().int().min(1000),
  })
  .strict()
export type PermissionSetup = z.infer<typeof permissionSetupSchema>

/** How one call is decided: at once (by the policy), or by asking someone. */
export type Decision =
  { verdict: 'allow' | 'deny'; reason: string } | { verdict: 'ask'; approver: Approver }

/**
 * Decides a call. The operator's deny rules and every layer's deny rules win; the operator's
 * "always" grants allow what a layer would ask for; the call is allowed when every layer
 * allows it. Otherwise it asks: the worker's approver when only its own rules ask, the operator
 * when a layer above it asks (a parent agent never approves what its own rules would ask for).
 */
export const decide = (
  setup: PermissionSetup,
  bounds: PermissionBounds,
  tool: string,
  input: unknown,
): Decision => {
  const subject = subjectOf(input)
  if (bounds.deny.some((r) => ruleMatches(r, tool, subject)))
    return { verdict: 'deny', reason: `the operator denies ${tool}` }
  const own = layerVerdict(setup.own, tool, subject)
  const above = setup.inherited.map((l) => layerVerdict(l, tool, subject))
  if (own === 'deny') return { verdict: 'deny', reason: `this worker's policy denies ${tool}` }
  if (above.includes('deny'))
    return { verdict: 'deny', reason: `a policy above this worker denies ${tool}` }
  if (setup.granted.some((r) => ruleMatches(r, tool, subject)))
    return { verdict: 'allow', reason: 'allowed always by the operator' }
  if (above.includes('ask')) return { verdict: 'ask', approver: 'operator' }
  if (own === 'ask') return { verdict: 'ask', approver: setup.approver }
  return { verdict: 'allow', reason: 'allowed by the policy' }
}

/** A config's `permissions` as a layer; undefined for `skip`. */
export const layerOf = (p: PermissionsConfig): PermissionLayer | undefined => {
  if (p === 'skip') return undefined
  if (p === 'ask') return { default: 'ask', allow: [], ask: [], deny: [] }
  return { default: p.default, allow: p.allow, ask: p.ask, deny: p.deny }
}

/** A layer that allows everything: a sub-worker that names no policy takes its parent's. */
const OPEN: PermissionLayer = { default: 'allow', allow: [], ask: [], deny: [] }

/** Thrown when a config's permissions are refused; the caller makes it an API error. */
export class PermissionsRefusal extends Error {
  constructor(
    readonly code: 'permissions_required' | 'not_wider_than_parent',
    message: string,
  ) {
    super(message)
    this.name = this.constructor.name
  }
}

/**
 * What the service keeps for a worker created with `config` (undefined: it skips permissions),
 * bounded by the operator and, for a sub-worker, by its parent's setup: a child of a worker
 * that asks cannot skip, and its parent's rules (and theirs) bind it.
 */
export const setupFor = (
  config: PermissionsConfig | undefined,
  bounds: PermissionBounds,
  parent?: PermissionSetup,
): PermissionSetup | undefined => {
  if (config === 'skip' && parent)
    throw new PermissionsRefusal(
      'not_wider_than_parent',
      "permissions: 'skip' is wider than the parent's, which asks",
    )
  if (config === 'skip' && bounds.min === 'ask')
    throw new PermissionsRefusal(
      'permissions_required',
      "permissions: 'skip' is not allowed here (PERMISSIONS_MIN=ask)",
    )
  const chosen = config ?? (parent ? undefined : bounds.min)
  const own = chosen === undefined ? OPEN : layerOf(chosen)
  if (!own) return undefined
  const policy = typeof chosen === 'object' ? chosen : undefined
  const timeoutMs = Math.min(
    policy?.timeoutMs ?? parent?.timeoutMs ?? bounds.defaultTimeoutMs,
    bounds.maxTimeoutMs,
  )
  return {
    own,
    inherited: parent ? [parent.own, ...parent.inherited].slice(0, 16) : [],
    granted: [],
    approver: policy?.approver ?? 'operator',
    timeoutMs: Math.max(1000, timeoutMs),
  }
}

/** A short line saying what a call does, for the people who answer it. */
export const summarize = (tool: string, input: unknown): string => {
  const subject = subjectOf(input)
  const text = subject ?? (input === undefined ? '' : JSON.stringify(input))
  const line = text.length > 200 ? `${text.slice(0, 200)}…` : text
  return line ? `${tool}: ${line}` : tool
}
