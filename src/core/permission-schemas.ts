import { z } from 'zod'
import { approverSchema, permissionRuleSchema, permissionSetupSchema } from './permission-policy.ts'

/** Input and output schemas of the permission commands, and what a worker's state keeps of them. */

const workerId = z
  .string()
  .regex(/^w-[a-f0-9]{16}$/, "not a worker id (expected 'w-' and 16 hex digits)")
  .describe('worker id')

/** A permission request's id: the agent's tool-use id when it has one, chosen by the asker. */
export const permissionRequestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits and . _ : - (at most 128)')
  .describe("the request's id (the agent's tool-use id, or one the asker keeps for its retries)")

/** The largest tool input kept with a request (JSON characters); a larger one is cut. */
export const MAX_PERMISSION_INPUT_CHARS = 4096

/** Who decided a request. */
export const decidedBySchema = z.enum(['policy', 'operator', 'parent', 'timeout'])
export type DecidedBy = z.infer<typeof decidedBySchema>

/** A request waiting for an answer, as `status` and the `permission_request` event show it. */
export const pendingPermissionSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  input: z.unknown().describe(`the tool's input (cut to ${MAX_PERMISSION_INPUT_CHARS} characters)`),
  summary: z.string().describe('what the call does, in one line'),
  createdAt: z.string(),
  deadline: z.string().describe('denied when still unanswered then'),
  approver: approverSchema.describe('who may answer it'),
})
export type PendingPermission = z.infer<typeof pendingPermissionSchema>

/** A request decided, kept a while so the asker's retries get the same answer. */
export const resolvedPermissionSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  decision: z.enum(['allow', 'deny']),
  by: decidedBySchema,
  reason: z.string().optional(),
  at: z.string(),
})
export type ResolvedPermission = z.infer<typeof resolvedPermissionSchema>

/** Requests one worker may have waiting at once. */
export const MAX_PENDING_PERMISSIONS = 16
/** Decided requests kept per worker for the askers' retries. */
export const MAX_RESOLVED_PERMISSIONS = 32

/**
 * What a request's id stands for: a digest of its tool and input. An id asked again for
 * another call (a model may choose its tool-use ids) never gets the first call's answer.
 */
const fingerprint = z.string().max(64)

/** What the worker's state file keeps: its rules, and its requests (they survive a restart). */
export const permissionStateSchema = permissionSetupSchema.extend({
  pending: z.array(pendingPermissionSchema.extend({ fingerprint })).max(MAX_PENDING_PERMISSIONS),
  resolved: z.array(resolvedPermissionSchema.extend({ fingerprint })).max(MAX_RESOLVED_PERMISSIONS),
})
export type PermissionState = z.infer<typeof permissionStateSchema>
/** A waiting request as the worker keeps it. */
export type KeptPending = PermissionState['pending'][number]
/** A decided request as the worker keeps it. */
export type KeptResolved = PermissionState['resolved'][number]

export const requestPermissionInput = z
  .object({
    workerId,
    requestId: permissionRequestIdSchema,
    tool: z
      .string()
      .min(1)
      .max(200)
      .refine((t) => !/[*?]/.test(t), "must not contain '*' or '?' (rules read them as globs)")
      .describe('the tool the agent wants to run'),
    input: z.unknown().optional().describe("the tool's input"),
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(30_000)
      .default(20_000)
      .describe('how long to wait for an answer before answering pending'),
  })
  .strict()

export const requestPermissionOutput = z.object({
  requestId: z.string(),
  decision: z.enum(['allow', 'deny', 'pending']),
  by: decidedBySchema.optional(),
  reason: z.string().optional(),
  deadline: z.string().optional().describe('while pending: when it is denied unanswered'),
})

export const answerPermissionInput = z
  .object({
    workerId,
    requestId: permissionRequestIdSchema,
    decision: z.enum(['allow', 'deny']),
    always: z
      .boolean()
      .default(false)
      .describe('with allow: allow this tool without asking from now on'),
    reason: z.string().max(1000).optional().describe('told to the agent'),
  })
  .strict()

export const answerPermissionOutput = z.object({
  workerId: z.string(),
  requestId: z.string(),
  decision: z.enum(['allow', 'deny']),
  by: decidedBySchema,
  always: z.boolean(),
})

export const listPermissionsInput = z.object({ workerId }).strict()

/** A worker's permissions as `status` and `permissions` show them. */
export const permissionsViewSchema = z.object({
  mode: z.enum(['skip', 'ask']).describe("'ask' when its tool calls go through a policy"),
  approver: approverSchema.optional(),
  timeoutMs: z.number().optional(),
  granted: z.array(permissionRuleSchema).optional().describe('tools allowed always by answers'),
  pending: z.array(pendingPermissionSchema),
})

export const listPermissionsOutput = permissionsViewSchema.extend({ workerId: z.string() })

/** The view of a worker's permission state. */
export const permissionsView = (
  state: PermissionState | undefined,
): z.infer<typeof permissionsViewSchema> =>
  state
    ? {
        mode: 'ask',
        approver: state.approver,
        timeoutMs: state.timeoutMs,
        granted: state.granted,
        pending: state.pending.map(({ fingerprint: _, ...p }) => p),
      }
    : { mode: 'skip', pending: [] }
