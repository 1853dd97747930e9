import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const run = promisify(execFile)

/**
 * A third party's agent plugin as an npm package: it imports the contract by its public name
 * and a helper file of its own; the "CLI" is /bin/sh upper-casing the prompt.
 */
const writeSource = (dir: string, version: string, tag: string) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'workers-spawner-plugin-shout',
      version,
      type: 'module',
      exports: { '.': './index.js' },
    }),
  )
  writeFileSync(
    join(dir, 'index.js'),
    `import { defineAgent } from 'workers-spawner/plugin'
import { reply } from './reply.js'
export default defineAgent({
  apiVersion: 'v1',
  name: 'shout',
  version: '${version}',
  description: 'upper-cases the prompt',
  prompt: (req) => ({ argv: ['/bin/sh', '-c', 'printf %s "$1" | tr a-z A-Z', 'sh', req.prompt] }),
  parse: (r) => ({ text: reply(r.stdout), raw: r.stdout }),
})
`,
  )
  writeFileSync(join(dir, 'reply.js'), `export const reply = (out) => '${tag}: ' + out\n`)
}

/** `npm pack` then `npm install` of the tarball into `prefix`, as an operator would. */
const install = async (source: string, prefix: string) => {
  const { stdout } = await run(
    'npm',
    ['pack', '--silent', '--pack-destination', join(source, '..')],
    { cwd: source },
  )
  const tarball = join(source, '..', stdout.trim().split('\n').at(-1)!)
  await run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--offline', tarball])
}

describe('a plugin installed as an npm package (npm start)', () => {
  const instance = `pkg-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const root = mkdtempSync(join(tmpdir(), 'ws-plugin-pkg-'))
  const prefix = join(root, 'service')
  const source = join(root, 'src', 'shout')
  let spawner: SpawnerProcess
  const call = (method: string, path: string, body?: unknown) =>
    spawnerClient(spawner)(method, path, body)

  const ask = async (prompt: string) => {
    const created = await call('POST', '/v1/workers', {
      agent: 'shout',
      labels: { 'pkg-test': instance },
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    const r = await call('POST', `/v1/workers/${created.json.workerId}/commands`, { prompt })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    return r.json.reply.text as string
  }

  beforeAll(async () => {
    mkdirSync(prefix, { recursive: true })
    writeSource(source, '1.0.0', 'v1')
    await install(source, prefix)
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      WATCH_PLUGINS: '1',
      PLUGIN_NODE_MODULES: join(prefix, 'node_modules'),
      PLUGIN_PACKAGES: 'acme-missing',
    })
  })
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
    rmSync(root, { recursive: true, force: true })
  })

  it('is listed with its package, reports a listed package that is missing, and answers a prompt', async () => {
    const listed = await call('GET', '/v1/plugins')
    expect(listed.json.plugins.find((p: { name: string }) => p.name === 'shout')).toMatchObject({
      kind: 'agent',
      version: '1.0.0',
      package: { name: 'workers-spawner-plugin-shout', version: '1.0.0' },
    })
    // Folder plugins are still there, without a package.
    expect(
      listed.json.plugins.find((p: { name: string }) => p.name === 'shell').package,
    ).toBeUndefined()
    expect(listed.json.errors).toContainEqual({
      plugin: 'acme-missing',
      field: 'PLUGIN_PACKAGES',
      reason: `package 'acme-missing' is not installed in ${join(prefix, 'node_modules')}`,
    })
    expect(await ask('hello')).toBe('v1: HELLO')
  })

  it('picks up an update installed while the service runs, its own helper files included', async () => {
    writeSource(source, '1.1.0', 'v2')
    await install(source, prefix)
    await expect
      .poll(
        async () =>
          (await call('GET', '/v1/plugins')).json.plugins.find(
            (p: { name: string }) => p.name === 'shout',
          )?.package?.version,
        {
          timeout: 15_000,
        },
      )
      .toBe('1.1.0')
    expect(await ask('again')).toBe('v2: AGAIN')
  })
})
