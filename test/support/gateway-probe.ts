import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import Dockerode from 'dockerode'

/**
 * A plugins folder with one agent, `gw-probe`, whose "CLI" is curl calling an Anthropic
 * Messages endpoint: enough to drive the model gateway end to end without an agent CLI. Its
 * model API is `PROBE_BASE_URL` with the key in `PROBE_KEY` (sent as `x-api-key`); a prompt
 * that starts with `stream:` asks for a streamed (SSE) answer.
 */
export const probePluginsDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-gw-plugins-'))
  mkdirSync(join(dir, 'gw-probe'))
  // ESM, as the project's own plugins are: the contract is resolved for `import`s only.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(
    join(dir, 'gw-probe', 'index.ts'),
    `import { defineAgent, lastJson, jsonLines, noResult, str, type Json } from 'workers-spawner/plugin'
export default defineAgent({
  apiVersion: 'v1',
  name: 'gw-probe',
  version: '1.0.0',
  description: 'curl against an Anthropic Messages endpoint, through the model gateway',
  gateway: { keys: ['PROBE_KEY'], baseUrl: 'PROBE_BASE_URL' },
  prompt: (req) => {
    const stream = req.prompt.startsWith('stream:')
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      stream,
      messages: [{ role: 'user', content: req.prompt }],
    })
    return {
      argv: ['/bin/sh', '-c',
        'curl -sS --fail-with-body -X POST "$PROBE_BASE_URL/v1/messages" ' +
        '-H "x-api-key: $PROBE_KEY" -H "anthropic-version: 2023-06-01" ' +
        '-H "content-type: application/json" --data-binary @-'],
      stdin: body,
    }
  },
  parse: (out) => {
    if (out.exitCode !== 0) return noResult(out.stdout.slice(0, 500))
    const whole = lastJson<Json>(out.stdout, (v) => v.type === 'message')
    if (whole) return { text: String((whole.content as Json[])[0]?.text ?? ''), raw: whole }
    const deltas = out.stdout.split('\\n').filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Json)
      .filter((e) => e.type === 'content_block_delta')
    if (deltas.length === 0) return noResult()
    return { text: deltas.map((e) => str((e.delta as Json).text) ?? '').join(''), raw: null }
  },
})
void jsonLines
`,
  )
  return dir
}

/**
 * Every place a value could leak to in a worker, as text: `docker inspect` (env, labels,
 * command), the container's log, and, read as root inside it, every file outside /proc and
 * /sys that holds the value plus the environment and command line of every process.
 */
export const workerTraces = async (containerId: string, needle: string): Promise<string> => {
  const docker = new Dockerode()
  const container = docker.getContainer(containerId)
  const inspect = JSON.stringify(await container.inspect())
  const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8')
  if (!/^[A-Za-z0-9-]{8,}$/.test(needle)) throw new Error('needle: letters, digits and dashes')
  // A pattern that matches the needle without holding it, so this exec's own environment and
  // command line (which the scan reads too) do not count as a trace.
  const pattern = `[${needle[0]}]${needle.slice(1)}`
  const exec = await container.exec({
    User: '0',
    AttachStdout: true,
    AttachStderr: true,
    Env: [`PATTERN=${pattern}`],
    Cmd: [
      '/bin/bash',
      '-c',
      'grep -rlsE --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "$PATTERN" / ' +
        '| sed "s/^/file: /"; for p in /proc/[0-9]*; do tr "\\0" "\\n" < $p/environ; ' +
        'tr "\\0" " " < $p/cmdline; echo; done 2>/dev/null; ps auxww',
    ],
  })
  const stream = await exec.start({})
  const chunks: Buffer[] = []
  const sink = new PassThrough()
  sink.on('data', (c: Buffer) => chunks.push(c))
  docker.modem.demuxStream(stream, sink, sink)
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('error', reject)
  })
  return [inspect, logs, Buffer.concat(chunks).toString('utf8')].join('\n')
}
