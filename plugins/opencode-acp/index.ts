import { defineAgent } from 'workers-spawner/plugin'
import opencode, { OPENCODE_VERSION } from '../opencode/index.ts'

// Everything but the headless hooks: the same CLI, model settings, gateway and config files.
const { kind: _kind, prompt: _prompt, parse: _parse, updates: _updates, ...same } = opencode
const { promptVia: _via, noise: _noise, ...shared } = same

/**
 * opencode over the Agent Client Protocol: `opencode acp`, one long-lived process per worker
 * that takes every prompt (no CLI start per prompt), its session updates streamed as they are.
 * Settings as for `opencode`.
 * @example
 * { "agent": "opencode-acp", "env": { "OPENCODE_MODEL": "qwen3-coder" } }
 */
export default defineAgent({
  ...shared,
  name: 'opencode-acp',
  version: '1.0.0',
  description: `opencode ${OPENCODE_VERSION} over ACP (opencode acp, one process per worker)`,
  acp: { argv: ['opencode', 'acp'] },
})
