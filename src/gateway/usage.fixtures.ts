/** Provider responses as they come over the wire, for the UsageMeter tests. */

const sse = (events: [string | undefined, unknown][], eol = '\n') =>
  events
    .map(([event, data]) => {
      const line = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}${eol}`
      return (event ? `event: ${event}${eol}` : '') + line + eol
    })
    .join('')

const JSON_TYPE = 'application/json'
const SSE_TYPE = 'text/event-stream; charset=utf-8'

/** A response, its content type, and the usage it reports. */
export interface Fixture {
  name: string
  contentType: string
  body: string
  usage: {
    model?: string
    inputTokens: number
    outputTokens: number
    cacheReadInputTokens: number
    cacheCreationInputTokens: number
  }
}

const anthropicUsage = {
  model: 'claude-sonnet-4-5-20250929',
  inputTokens: 1210,
  outputTokens: 50,
  cacheReadInputTokens: 1000,
  cacheCreationInputTokens: 200,
}

/** A text a model might write: multi-byte characters and things that look like usage. */
const TRICKY = 'héllo ✓ 🎉 "usage": {"input_tokens": 999999}\ndata: {"usage":{"prompt_tokens":7}}'

const anthropicSse = (eol: string, deltaUsage: object) =>
  sse(
    [
      [
        'message_start',
        {
          type: 'message_start',
          message: {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5-20250929',
            content: [],
            stop_reason: null,
            usage: {
              input_tokens: 10,
              cache_creation_input_tokens: 200,
              cache_read_input_tokens: 1000,
              output_tokens: 1,
            },
          },
        },
      ],
      ['ping', { type: 'ping' }],
      [
        'content_block_start',
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: TRICKY } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: deltaUsage },
      ],
      ['message_stop', { type: 'message_stop' }],
    ],
    eol,
  )

const responsesObject = (status: string, usage: object | null) => ({
  id: 'resp_1',
  object: 'response',
  status,
  model: 'gpt-5-codex',
  instructions: 'You are Codex. Report "usage": {"input_tokens": 1}.',
  output: [{ type: 'message', content: [{ type: 'output_text', text: TRICKY }] }],
  tools: [
    { type: 'function', name: 'f', parameters: { properties: { usage: { type: 'object' } } } },
  ],
  usage,
  metadata: {},
})
const responsesUsage = {
  input_tokens: 1500,
  input_tokens_details: { cached_tokens: 1200 },
  output_tokens: 300,
  output_tokens_details: { reasoning_tokens: 200 },
  total_tokens: 1800,
}
const responsesExpected = {
  model: 'gpt-5-codex',
  inputTokens: 1500,
  outputTokens: 300,
  cacheReadInputTokens: 1200,
  cacheCreationInputTokens: 0,
}
const responsesSse = (last: string) =>
  sse([
    [
      'response.created',
      { type: 'response.created', response: responsesObject('in_progress', null) },
    ],
    ['response.output_text.delta', { type: 'response.output_text.delta', delta: TRICKY }],
    [last, { type: last, response: responsesObject(last.slice(9), responsesUsage) }],
  ])

const chatChunk = (delta: object, extra: object = {}) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  model: 'gpt-4.1-2025-04-14',
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
})
const chatUsage = {
  prompt_tokens: 100,
  completion_tokens: 20,
  prompt_tokens_details: { cached_tokens: 64 },
  completion_tokens_details: { reasoning_tokens: 5 },
}
const chatExpected = {
  model: 'gpt-4.1-2025-04-14',
  inputTokens: 100,
  outputTokens: 20,
  cacheReadInputTokens: 64,
  cacheCreationInputTokens: 0,
}

const geminiChunk = (text: string, usageMetadata: object) => ({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }],
  usageMetadata,
  modelVersion: 'gemini-2.5-pro',
})
const geminiFinal = {
  promptTokenCount: 100,
  candidatesTokenCount: 20,
  thoughtsTokenCount: 30,
  cachedContentTokenCount: 40,
  toolUsePromptTokenCount: 5,
  totalTokenCount: 155,
}
const geminiChunks = [
  geminiChunk('hé', { promptTokenCount: 100, totalTokenCount: 100 }),
  geminiChunk(TRICKY, { promptTokenCount: 100, candidatesTokenCount: 12, totalTokenCount: 112 }),
  geminiChunk('.', geminiFinal),
]
const geminiExpected = {
  model: 'gemini-2.5-pro',
  inputTokens: 105,
  outputTokens: 50,
  cacheReadInputTokens: 40,
  cacheCreationInputTokens: 0,
}

export const FIXTURES: Fixture[] = [
  {
    name: 'anthropic json',
    contentType: JSON_TYPE,
    body: JSON.stringify({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: TRICKY }],
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 200,
        cache_read_input_tokens: 1000,
        output_tokens: 50,
      },
    }),
    usage: anthropicUsage,
  },
  {
    name: 'anthropic sse',
    contentType: SSE_TYPE,
    body: anthropicSse('\n', { output_tokens: 50 }),
    usage: anthropicUsage,
  },
  {
    name: 'anthropic sse, CRLF, counts repeated in message_delta',
    contentType: SSE_TYPE,
    body: anthropicSse('\r\n', {
      input_tokens: 10,
      cache_creation_input_tokens: 200,
      cache_read_input_tokens: 2000,
      output_tokens: 50,
    }),
    usage: { ...anthropicUsage, inputTokens: 2210, cacheReadInputTokens: 2000 },
  },
  {
    name: 'openai responses json',
    contentType: JSON_TYPE,
    body: JSON.stringify(responsesObject('completed', responsesUsage)),
    usage: responsesExpected,
  },
  ...['response.completed', 'response.incomplete', 'response.failed'].map((last) => ({
    name: `openai responses sse ending in ${last}`,
    contentType: SSE_TYPE,
    body: responsesSse(last),
    usage: responsesExpected,
  })),
  {
    name: 'openai chat json',
    contentType: JSON_TYPE,
    body: JSON.stringify({
      id: 'c1',
      object: 'chat.completion',
      model: 'gpt-4.1-2025-04-14',
      choices: [{ index: 0, message: { role: 'assistant', content: TRICKY } }],
      usage: chatUsage,
    }),
    usage: chatExpected,
  },
  {
    name: 'openai chat sse',
    contentType: SSE_TYPE,
    body: sse([
      [undefined, chatChunk({ role: 'assistant', content: '' }, { usage: null })],
      [undefined, chatChunk({ content: TRICKY }, { usage: null })],
      [undefined, { ...chatChunk({}), choices: [], usage: chatUsage }],
      [undefined, '[DONE]'],
    ]),
    usage: chatExpected,
  },
  {
    name: 'gemini json',
    contentType: JSON_TYPE,
    body: JSON.stringify(geminiChunks[2]),
    usage: { ...geminiExpected, outputTokens: 50 },
  },
  {
    name: 'gemini sse',
    contentType: SSE_TYPE,
    body: sse(geminiChunks.map((c) => [undefined, c])),
    usage: geminiExpected,
  },
  {
    name: 'gemini streamed json array',
    contentType: JSON_TYPE,
    body: '[' + geminiChunks.map((c) => JSON.stringify(c, null, 2)).join(',\r\n') + ']',
    usage: geminiExpected,
  },
]
