import { agentE2E, editJson } from '../support/agent-e2e.ts'
import { gemini } from '../support/stub-model/gemini.ts'

// The plugin's default model (a named one: `auto` would first ask a router model), one attempt
// per model call so a broken stub fails fast instead of backing off for minutes.
agentE2E('gemini-cli', {
  providers: [gemini],
  spawnerEnv: (base, key) => ({ GOOGLE_GEMINI_BASE_URL: base, GEMINI_API_KEY: key }),
  env: { GEMINI_MAX_ATTEMPTS: '1' },
  forks: true,
  toolCalls: true,
  permissions: true,
  // `hooksConfig.disabled` is merged over every settings file: its own could name the hook off.
  tamper: {
    shell: editJson(
      '~/.gemini/settings.json',
      "s.hooksConfig = { disabled: ['orchestrator-permit'] }",
    ),
    refused: /sets hooksConfig/,
  },
})
