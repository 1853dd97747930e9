import { agentE2E } from '../support/agent-e2e.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'

// opencode over ACP: one long-lived `opencode acp` per worker takes every prompt; the same model
// settings and gateway as the headless plugin.
agentE2E('opencode-acp', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({
    OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
    OPENCODE_PROVIDER_API_KEY: key,
  }),
  env: { OPENCODE_MODEL: 'stub-model' },
})
