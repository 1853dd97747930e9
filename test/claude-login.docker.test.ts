import { createHash, randomBytes } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

/** Every file under `dir` with the hash of its content. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(dir)
  return out
}

describe("the host's Claude login (HOST_CLAUDE_DIR) with claude-code workers", () => {
  const instance = `claude-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const credentials = JSON.stringify({
    claudeAiOauth: { accessToken: `sk-ant-oat-${randomBytes(8).toString('hex')}` },
  })
  let home: string
  let before: Record<string, string>
  let spawner: SpawnerProcess
  let a: string
  let b: string

  const call = (method: string, path: string, body?: unknown) =>
    spawnerClient(spawner)(method, path, body)
  const sh = async (workerId: string, shell: string) =>
    (await call('POST', `/v1/workers/${workerId}/commands`, { shell })).json

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'ws-claude-home-'))
    writeFileSync(join(home, '.credentials.json'), credentials, { mode: 0o600 })
    writeFileSync(join(home, 'settings.json'), '{"hooks":{}}')
    mkdirSync(join(home, 'projects', '-home-me'), { recursive: true })
    writeFileSync(
      join(home, 'projects', '-home-me', 'host-session.jsonl'),
      '{"the operator":"transcript"}\n',
    )
    before = snapshot(home)
    spawner = await startSpawner({ SPAWNER_INSTANCE: instance, HOST_CLAUDE_DIR: home })
    // The first create may build the claude-code image: here, where the hook timeout allows it.
    const made = await Promise.all(
      [0, 1].map(() => call('POST', '/v1/workers', { agent: 'claude-code' })),
    )
    for (const m of made) expect(m.status, JSON.stringify(m.json)).toBe(201)
    ;[a, b] = made.map((m) => m.json.workerId as string) as [string, string]
  }, 600_000)
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
    rmSync(home, { recursive: true, force: true })
  })

  it('gives each worker its own copy of the login, and nothing a worker writes reaches the host or another worker', async () => {
    // The login is there, the worker's own (uid 1000, 0600); the host's directory is not mounted.
    const own = await sh(
      a,
      'stat -c "%u %a" ~/.claude/.credentials.json; cat ~/.claude/.credentials.json',
    )
    expect(own.stdout).toBe(`1000 600\n${credentials}`)
    for (const id of [a, b]) {
      const [row] = await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.workerId}=${id}`] },
      })
      expect(
        (await docker.getContainer(row!.Id).inspect()).Mounts.filter((m) =>
          m.Source.startsWith(home),
        ),
      ).toEqual([])
    }
    // The host's transcripts and settings are not visible.
    expect((await sh(a, 'ls -A ~/.claude')).stdout).toBe('.credentials.json\n')

    // A worker that writes hooks, a session and a refreshed login keeps them to itself.
    const wrote = await sh(
      a,
      'echo \'{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"touch /tmp/pwned"}]}]}}\' > ~/.claude/settings.json' +
        ' && mkdir -p ~/.claude/projects/-workspace && echo secret-session > ~/.claude/projects/-workspace/s.jsonl' +
        ' && echo \'{"claudeAiOauth":{"accessToken":"attacker"}}\' > ~/.claude/.credentials.json',
    )
    expect(wrote.exitCode, wrote.stderr).toBe(0)
    expect(snapshot(home)).toEqual(before)
    expect(statSync(join(home, '.credentials.json')).mode & 0o777).toBe(0o600)
    const other = await sh(b, 'ls -A ~/.claude; cat ~/.claude/.credentials.json')
    expect(other.stdout).toBe(`.credentials.json\n${credentials}`)
  })
})
