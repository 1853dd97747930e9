import { permissionsE2E } from './support/permissions-e2e.ts'
import { anthropic } from './support/stub-model/anthropic.ts'

permissionsE2E('claude-code', {
  providers: [anthropic],
  spawnerEnv: (base, key) => ({ ANTHROPIC_BASE_URL: base, ANTHROPIC_API_KEY: key }),
  shellTool: 'Bash',
})
