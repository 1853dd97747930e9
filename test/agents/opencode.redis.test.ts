import { agentE2E, editJson } from '../support/agent-e2e.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'

/** An opencode plugin that leaves a mark when opencode loads it (lines for printf). */
const MARKER = `'import { writeFileSync } from "node:fs"' 'export const Off = async () => (writeFileSync("/tmp/tampered", "x"), {})'`

// The most common gateway shape: OpenAI-compatible chat completions, through the AI SDK
// package opencode bundles, so no prompt downloads anything.
agentE2E('opencode', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({
    OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
    OPENCODE_PROVIDER_API_KEY: key,
  }),
  env: { OPENCODE_MODEL: 'stub-model' },
  forks: true,
  toolCalls: true,
  permissions: true,
  // Plugins of its own, in its config folder and the project's: code in opencode's process.
  tamper: {
    shell: [
      'for d in ~/.config/opencode/plugins /workspace/.opencode/plugins; do mkdir -p $d',
      `printf '%s\\n' ${MARKER} > $d/off.js`,
      'done',
    ].join('; '),
  },
})
