import { permissionsE2E } from './support/permissions-e2e.ts'
import { gemini } from './support/stub-model/gemini.ts'
import { openaiChat } from './support/stub-model/openai-chat.ts'
import { openaiResponses } from './support/stub-model/openai-responses.ts'

// The approvals suite of claude-code (permissions.redis.test.ts), for the other agents that ask:
// HTTP and Redis answers, the timeout, a parent agent's answer and a restart of the service.
// The CLIs' settings are the spawner's, so the sub-worker a parent spawns with its orchestrator
// CLI (no env of its own) has them too.
permissionsE2E('gemini-cli', {
  providers: [gemini],
  spawnerEnv: (base, key) => ({
    GOOGLE_GEMINI_BASE_URL: base,
    GEMINI_API_KEY: key,
    GEMINI_MAX_ATTEMPTS: '1',
  }),
  shellTool: 'run_shell_command',
})

permissionsE2E('factory-droid', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({
    FACTORY_MODEL_BASE_URL: `${base}/v1`,
    FACTORY_MODEL_API_KEY: key,
    FACTORY_MODEL: 'stub-model',
    FACTORY_MODEL_NAME: 'Stub Model',
  }),
  shellTool: 'Execute',
})

permissionsE2E('opencode', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({
    OPENCODE_PROVIDER_BASE_URL: `${base}/v1`,
    OPENCODE_PROVIDER_API_KEY: key,
    OPENCODE_MODEL: 'stub-model',
  }),
  shellTool: 'bash',
})

// A model Codex does not know: plain function tools, its shell command named `Bash` to hooks.
permissionsE2E('codex', {
  providers: [openaiResponses],
  spawnerEnv: (base, key) => ({
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: key,
    CODEX_MODEL: 'stub-model',
  }),
  shellTool: 'Bash',
})
