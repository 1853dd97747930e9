import { z } from 'zod'

/**
 * What an agent is doing while a prompt runs, the same for every CLI: the session updates of
 * the Agent Client Protocol (ACP, `session/update`), so a client written for ACP agents reads
 * them as they are. Each agent plugin maps its CLI's own output lines onto them (`updates`).
 * Two kinds of our own close a turn, where ACP answers the prompt request instead:
 * `usage_update` (ACP's, still unstable there) and `turn_end` (ACP's `stopReason`).
 */

/** A content block: text is what CLIs print; other kinds pass as ACP has them. */
export const contentBlockSchema = z
  .object({ type: z.literal('text'), text: z.string() })
  .or(z.object({ type: z.string() }).catchall(z.unknown()))

/** What a tool call does, by ACP's kinds (clients pick icons and wording by it). */
export const toolKindSchema = z.enum([
  'read',
  'edit',
  'delete',
  'move',
  'search',
  'execute',
  'think',
  'fetch',
  'switch_mode',
  'other',
])

export const toolStatusSchema = z.enum(['pending', 'in_progress', 'completed', 'failed'])

/** What a tool call produced: content, or a file's change (`diff`). */
export const toolCallContentSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('content'), content: contentBlockSchema }),
  z.object({
    type: z.literal('diff'),
    path: z.string(),
    oldText: z.string().nullable().optional(),
    newText: z.string(),
  }),
])

/** A file a tool call reads or changes (clients follow along in the file). */
export const toolLocationSchema = z.object({ path: z.string(), line: z.number().int().optional() })

const toolFields = {
  toolCallId: z.string().min(1),
  title: z.string().optional(),
  kind: toolKindSchema.optional(),
  status: toolStatusSchema.optional(),
  content: z.array(toolCallContentSchema).optional(),
  locations: z.array(toolLocationSchema).optional(),
  rawInput: z.unknown().optional(),
  rawOutput: z.unknown().optional(),
}

export const agentUpdateSchema = z.discriminatedUnion('sessionUpdate', [
  z.object({ sessionUpdate: z.literal('agent_message_chunk'), content: contentBlockSchema }),
  z.object({ sessionUpdate: z.literal('agent_thought_chunk'), content: contentBlockSchema }),
  z.object({
    sessionUpdate: z.literal('tool_call'),
    ...toolFields,
    title: z.string(),
  }),
  z.object({ sessionUpdate: z.literal('tool_call_update'), ...toolFields }),
  z.object({
    sessionUpdate: z.literal('plan'),
    entries: z.array(
      z.object({
        content: z.string(),
        priority: z.enum(['high', 'medium', 'low']),
        status: z.enum(['pending', 'in_progress', 'completed']),
      }),
    ),
  }),
  z.object({
    sessionUpdate: z.literal('usage_update'),
    inputTokens: z.number().optional(),
    outputTokens: z.number().optional(),
    cacheReadInputTokens: z.number().optional(),
    cacheCreationInputTokens: z.number().optional(),
    costUsd: z.number().optional(),
  }),
  z.object({ sessionUpdate: z.literal('error'), message: z.string() }),
  z.object({
    sessionUpdate: z.literal('turn_end'),
    stopReason: z.enum(['end_turn', 'max_tokens', 'max_turn_requests', 'refusal', 'cancelled']),
    sessionId: z.string().optional(),
  }),
])
export type AgentUpdate = z.infer<typeof agentUpdateSchema>
export type AgentUpdateInput = z.input<typeof agentUpdateSchema>

/**
 * A plugin's `updates(line, turn)`: the ACP updates one JSON line of its CLI's stdout stands
 * for (none for a line that says nothing). `turn` is an object of the plugin's own, new for each
 * prompt and kept across its lines (tool call ids seen, text already sent, …).
 */
export type UpdatesHook = (
  line: Record<string, unknown>,
  turn: Record<string, unknown>,
) => AgentUpdateInput[] | undefined
