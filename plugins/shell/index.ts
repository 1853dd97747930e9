import { defineAgent } from 'workers-spawner/plugin'

/** The reference agent: a prompt runs as a bash command and the reply is its stdout. No LLM. */
export default defineAgent({
  apiVersion: 'v1',
  name: 'shell',
  version: '1.0.0',
  description:
    'Reference agent: the prompt runs as a bash command; the reply is its stdout (no LLM)',
  // Over Linux's argv limit the command comes on stdin, and runs as it would from `-c`.
  promptVia: 'auto',
  prompt: ({ prompt, via }) => ({
    argv: ['/bin/bash', '-c', via === 'stdin' ? 'eval "$(cat)"' : prompt],
  }),
  parse: (result) => ({
    text: result.stdout.replace(/\n$/, ''),
    raw: { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
  }),
})
