import { describe, expect, it } from 'vitest'
import { workerConfigSchema } from './config.ts'
import { defineAgent, defineCapability, type Plugin } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { assertSecrets, buildContainerSpec } from './spec.ts'
import { DEFAULT_POLICY, mountRefusal, parseMountRules } from './policy.ts'

const registry = PluginRegistry.fromModules([
  {
    name: 'bot',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'bot',
        version: '1.0.0',
        description: 'test agent',
        secrets: [{ name: 'BOT_KEY', required: true }, { name: 'BOT_OPTIONAL' }],
        env: (ctx) => ({ BOT_HOME: `${ctx.workdir}/.bot`, SHARED: 'from-plugin' }),
        mounts: (ctx) =>
          ctx.hostEnv.BOT_DIR
            ? [{ source: ctx.hostEnv.BOT_DIR, target: '/home/worker/.bot', readOnly: true }]
            : [],
        prompt: (r) => ({ argv: [r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
  {
    name: 'dind',
    module: {
      default: defineCapability({
        apiVersion: 'v1',
        name: 'dind',
        version: '1.0.0',
        description: 'needs sysbox',
        container: () => ({ runtime: 'sysbox-runc' }),
      }),
    },
  },
])
const plugins = (names: string[]) => names.map((n) => registry.get(n)) as Plugin[]

const config = workerConfigSchema.parse({
  agent: 'bot',
  capabilities: ['dind'],
  env: { SHARED: 'from-config', EXTRA: '1' },
  labels: { team: 'infra' },
  resources: { memoryMb: 512, cpus: 1.5, pids: 256 },
})
const ctx = {
  workerId: 'w-0123456789abcdef',
  image: 'workers-spawner/derived:abc',
  hostEnv: { BOT_KEY: 's3cr3t-value', BOT_DIR: '/host/bot', UNRELATED: 'x' },
  now: new Date('2026-01-02T03:04:05.000Z'),
  policy: { ...DEFAULT_POLICY, mounts: parseMountRules(['/host']) },
}

describe('buildContainerSpec', () => {
  const spec = buildContainerSpec(config, plugins(['bot', 'dind']), ctx)

  it('hardens the container', () => {
    expect(spec.user).toBe('1000:1000')
    expect(spec.securityOpt).toEqual(['no-new-privileges:true'])
    expect(spec.capDrop).toEqual(['ALL'])
    expect(spec.memoryBytes).toBe(512 * 1024 * 1024)
    expect(spec.nanoCpus).toBe(1_500_000_000)
    expect(spec.pidsLimit).toBe(256)
    expect(spec).not.toHaveProperty('privileged')
  })

  it('layers env: plugin, then declared secrets, then config', () => {
    expect(spec.env.BOT_HOME).toBe('/workspace/.bot')
    expect(spec.env.SHARED).toBe('from-config')
    expect(spec.env.EXTRA).toBe('1')
    expect(spec.env.BOT_KEY).toBe('s3cr3t-value')
    expect(spec.env).not.toHaveProperty('BOT_OPTIONAL')
    expect(spec.env).not.toHaveProperty('UNRELATED')
    expect(spec.env.WORKERS_SPAWNER_WORKER_ID).toBe(ctx.workerId)
  })

  it('labels the container without secret values', () => {
    expect(spec.labels).toMatchObject({
      team: 'infra',
      'workers-spawner.managed': 'true',
      'workers-spawner.worker-id': ctx.workerId,
      'workers-spawner.agent': 'bot',
      'workers-spawner.capabilities': 'dind',
      'workers-spawner.created-at': '2026-01-02T03:04:05.000Z',
      'workers-spawner.ttl-seconds': '86400',
      'workers-spawner.idle-seconds': '900',
    })
    expect(JSON.stringify(spec.labels)).not.toContain('s3cr3t')
  })

  it('takes image, workdir, mounts and runtime from config and plugins', () => {
    expect(spec.image).toBe(ctx.image)
    expect(spec.workdir).toBe('/workspace')
    expect(spec.mounts).toEqual([
      { source: '/host/bot', target: '/home/worker/.bot', readOnly: true },
    ])
    expect(spec.runtime).toBe('sysbox-runc')
    expect(spec.name).toBe(`workers-spawner-${ctx.workerId}`)
  })

  it('is pure: same inputs, same spec', () => {
    expect(buildContainerSpec(config, plugins(['bot', 'dind']), ctx)).toEqual(spec)
  })

  it('asks for no runtime when no plugin does', () => {
    expect(buildContainerSpec(config, plugins(['bot']), ctx).runtime).toBeUndefined()
  })
})

describe('what plugins may ask for (the operator policy)', () => {
  const refusal = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return err as { code: string; message: string; kind: string }
    }
    throw new Error('not refused')
  }
  const withPlugin = (tweaks: Partial<Parameters<typeof defineCapability>[0]>) =>
    defineCapability({
      apiVersion: 'v1',
      name: 'asker',
      version: '1.0.0',
      description: 'asks',
      ...tweaks,
    })
  const base = { ...ctx, policy: DEFAULT_POLICY }

  it('refuses host mounts by default, and any not under ALLOWED_MOUNTS', () => {
    const e = refusal(() => buildContainerSpec(config, plugins(['bot']), base))
    expect(e).toMatchObject({ code: 'mount_not_allowed', kind: 'bad_request' })
    expect(e.message).toMatch(/plugin 'bot' asks to mount \/host\/bot/)
    const elsewhere = {
      ...ctx,
      policy: { ...DEFAULT_POLICY, mounts: parseMountRules(['/srv/shared']) },
    }
    expect(refusal(() => buildContainerSpec(config, plugins(['bot']), elsewhere)).code).toBe(
      'mount_not_allowed',
    )
  })

  it('never allows the Docker socket, and writable mounts only where the rule says :rw', () => {
    const rules = parseMountRules(['/', '/data:rw'])
    expect(mountRefusal({ source: '/var/run/docker.sock', readOnly: true }, rules)).toMatch(/never/)
    expect(mountRefusal({ source: '/run/docker.sock', readOnly: true }, rules)).toMatch(/never/)
    expect(
      mountRefusal({ source: '/home/me/x/../../var/run/docker.sock', readOnly: true }, rules),
    ).toMatch(/\.\./)
    expect(mountRefusal({ source: '/home/me', readOnly: false }, rules)).toMatch(/read-only/)
    expect(mountRefusal({ source: '/data/x', readOnly: false }, rules)).toBeUndefined()
    expect(
      mountRefusal({ source: '/database', readOnly: true }, parseMountRules(['/data'])),
    ).toMatch(/not under/)
  })

  it('refuses added capabilities and runtimes the operator did not allow', () => {
    const caps = withPlugin({ container: () => ({ capAdd: ['SYS_ADMIN'] }) })
    expect(refusal(() => buildContainerSpec(config, [caps], base))).toMatchObject({
      code: 'capability_not_allowed',
    })
    const allowed = { ...base, policy: { ...DEFAULT_POLICY, caps: ['SYS_ADMIN'] } }
    expect(buildContainerSpec(config, [caps], allowed).capAdd).toEqual(['SYS_ADMIN'])
    const runtime = withPlugin({ container: () => ({ runtime: 'runsc' }) })
    expect(refusal(() => buildContainerSpec(config, [runtime], base))).toMatchObject({
      code: 'runtime_not_allowed',
    })
  })

  it('keeps /dev/shm within the memory limit', () => {
    const shm = withPlugin({ container: () => ({ shmSizeMb: 100_000 }) })
    expect(buildContainerSpec(config, [shm], base).shmSizeBytes).toBe(512 * 1024 * 1024)
  })
})

describe('assertSecrets', () => {
  it('names every missing required secret', () => {
    expect(() => assertSecrets(plugins(['bot']), {})).toThrow(/BOT_KEY \(for 'bot'\)/)
    expect(() => assertSecrets(plugins(['bot']), { BOT_KEY: 'x' })).not.toThrow()
  })
})
