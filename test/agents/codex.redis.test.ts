import { agentE2E } from '../support/agent-e2e.ts'
import { openaiResponses } from '../support/stub-model/openai-responses.ts'

// Codex on a Responses API endpoint (the only wire API it accepts), through the provider the
// plugin writes into ~/.codex/config.toml. A model Codex does not know gets plain function tools
// (`exec_command`); its default model would call them through a JavaScript `exec` tool instead.
agentE2E('codex', {
  providers: [openaiResponses],
  spawnerEnv: (base, key) => ({ OPENAI_BASE_URL: `${base}/v1`, OPENAI_API_KEY: key }),
  forks: true,
  env: { CODEX_MODEL: 'stub-model' },
  toolCalls: true,
  permissions: true,
  // Its own config, switching the hooks feature off.
  tamper: { shell: 'echo codex_hooks = false >> ~/.codex/config.toml' },
})
