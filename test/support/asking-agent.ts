import { defineAgent } from '../../src/core/plugin/contract.ts'

/**
 * An agent that can ask for permissions, for tests of the core: like `shell` (a prompt runs as a
 * bash command), with a permissions hook that writes a root-owned file. No CLI calls the hook.
 */
export const askingAgent = defineAgent({
  apiVersion: 'v1',
  name: 'asker',
  version: '1.0.0',
  description: 'Test agent: a prompt runs as a bash command; it declares a permissions hook',
  prompt: ({ prompt, permissions }) => ({
    argv: ['/bin/bash', '-c', prompt],
    env: { ASKER_PERMISSIONS: permissions ?? 'skip' },
  }),
  permissions: () => ({
    files: { '/etc/asker/hook.json': { hook: 'orchestrator permit --format exit-code' } },
    env: { ASKER_HOOK: '/etc/asker/hook.json' },
  }),
  parse: (result) => ({ text: result.stdout.replace(/\n$/, ''), raw: null }),
})
