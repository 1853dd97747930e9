import { agentE2E } from '../support/agent-e2e.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'

// The most common gateway shape: OpenAI-compatible chat completions, through the AI SDK
// package opencode bundles, so no prompt downloads anything.
agentE2E('opencode', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({
    OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
    OPENCODE_PROVIDER_API_KEY: key,
  }),
  env: { OPENCODE_MODEL: 'stub-model' },
  toolCalls: true,
  permissions: true,
})
