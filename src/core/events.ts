import { z } from 'zod'
import { replySchema } from './plugin/contract.ts'
import { agentUpdateSchema } from './plugin/updates.ts'
import { spendSchema } from './budget.ts'
import { budgetSchema } from './config.ts'
import { approverSchema } from './permission-policy.ts'
import { decidedBySchema } from './permission-schemas.ts'
import { buildProgressSchema } from './build-progress.ts'
import { fileChangeSchema } from './schemas.ts'

const base = {
  workerId: z.string(),
  requestId: z.string().optional(),
  at: z.string().describe('ISO time'),
}

/** Why a worker changed state. */
export const statusReasonSchema = z.enum(['request', 'ttl', 'idle', 'error'])

/** Every event the service emits; published on Redis and served as SSE on /v1/events. */
export const spawnerEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('status'),
    state: z.enum(['creating', 'running', 'paused', 'deleted', 'failed']),
    reason: statusReasonSchema,
    message: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('output'),
    stream: z.enum(['stdout', 'stderr']),
    data: z.string(),
    seq: z.number().int().describe('order of this chunk within its command, from 0'),
  }),
  z.object({ ...base, type: z.literal('response'), reply: replySchema }),
  z.object({
    ...base,
    type: z.literal('command_exit'),
    exitCode: z.number().int(),
    timedOut: z.boolean(),
    durationMs: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal('agent'),
    seq: z.number().int().describe('order of this update within its prompt, from 0'),
    update: agentUpdateSchema.describe("the agent's progress, as an ACP session update"),
  }),
  z.object({
    ...base,
    type: z.literal('usage'),
    plugin: z.string().describe('whose model API the call went to'),
    model: z.string().optional(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheReadInputTokens: z.number(),
    cacheCreationInputTokens: z.number(),
    costUsd: z.number(),
    spend: spendSchema.describe("the worker's own spend after this call"),
  }),
  z.object({
    ...base,
    type: z.literal('budget'),
    by: z.string().optional().describe('the sub-worker whose call used the budget up'),
    budget: budgetSchema,
    spend: spendSchema.describe('what the worker and its sub-workers spent'),
    message: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('egress_denied'),
    host: z.string(),
    port: z.number().int(),
    reason: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('permission_request'),
    requestId: z.string().describe("the permission request's id (answer it with this)"),
    tool: z.string(),
    input: z.unknown().describe("the tool's input (cut when large)"),
    summary: z.string(),
    deadline: z.string().describe('denied when still unanswered then'),
    approver: approverSchema.describe("who may answer: the operator, or the worker's parent"),
    parentId: z.string().optional().describe('the worker that spawned it'),
    rootId: z.string().describe('the operator-made worker at the top of its tree'),
  }),
  z.object({
    ...base,
    type: z.literal('permission_resolved'),
    requestId: z.string(),
    tool: z.string(),
    decision: z.enum(['allow', 'deny']),
    by: decidedBySchema,
    reason: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('file_changed'),
    change: fileChangeSchema.shape.type,
    path: fileChangeSchema.shape.path,
    dir: fileChangeSchema.shape.dir,
  }),
  z.object({
    ...base,
    ...buildProgressSchema.shape,
    workerId: z
      .string()
      .describe("the worker the image is for; '' for a build of its own (build_image, the start)"),
    type: z.literal('image_build'),
  }),
])
export type SpawnerEvent = z.infer<typeof spawnerEventSchema>
export type EventType = SpawnerEvent['type']

/** Anything events can be subscribed to: the local bus, or Redis pub/sub across instances. */
export interface EventFeed {
  subscribe(listener: (event: SpawnerEvent) => void): () => void
}

/** Distributes events to subscribers (Redis publisher, SSE clients). */
export class EventBus {
  private readonly listeners = new Set<(event: SpawnerEvent) => void>()

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (event: SpawnerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  publish(event: SpawnerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        // One failing subscriber must not cost the others their events.
      }
    }
  }

  get size(): number {
    return this.listeners.size
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** An event as the service raises it; the time and the request are added when it is published. */
export type EventDraft = DistributiveOmit<SpawnerEvent, 'at' | 'requestId'>

/** Publishes an event, stamped with the time and the request that caused it. */
export type Emit = (event: EventDraft, requestId?: string) => void

/** An `Emit` that publishes on `bus` with times from `now`. */
export const stampedEmit =
  (bus: EventBus, now: () => Date): Emit =>
  (event, requestId) =>
    bus.publish({
      ...event,
      at: now().toISOString(),
      ...(requestId ? { requestId } : {}),
    } as SpawnerEvent)
