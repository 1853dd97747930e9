import { agentE2E } from '../support/agent-e2e.ts'
import { anthropic } from '../support/stub-model/anthropic.ts'

agentE2E('claude-code', {
  providers: [anthropic],
  spawnerEnv: (base, key) => ({ ANTHROPIC_BASE_URL: base, ANTHROPIC_API_KEY: key }),
  budgets: true,
  forks: true,
})
