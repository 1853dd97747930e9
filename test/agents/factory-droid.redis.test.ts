import { agentE2E, editJson } from '../support/agent-e2e.ts'
import { openaiChat } from '../support/stub-model/openai-chat.ts'

// droid with a bring-your-own model (chat completions) on the stub, airgapped: no Factory login.
agentE2E('factory-droid', {
  providers: [openaiChat],
  spawnerEnv: (base, key) => ({ FACTORY_MODEL_BASE_URL: `${base}/v1`, FACTORY_MODEL_API_KEY: key }),
  env: { FACTORY_MODEL: 'stub-model', FACTORY_MODEL_NAME: 'Stub Model' },
  forks: true,
  toolCalls: true,
  permissions: true,
  // Its own settings and the project's, switching every hook off.
  tamper: {
    shell: ['~/.factory/settings.json', '/workspace/.factory/settings.json']
      .map((f) => editJson(f, 's.hooks = { hooksDisabled: true }'))
      .join(' && '),
  },
})
