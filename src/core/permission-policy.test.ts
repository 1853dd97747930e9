import { describe, expect, it } from 'vitest'
import { workerConfigSchema } from './config.ts'
import {
  decide,
  DEFAULT_PERMISSION_BOUNDS as BOUNDS,
  PermissionsRefusal,
  ruleMatches,
  setupFor,
  summarize,
  type PermissionSetup,
} from './permission-policy.ts'

const setup = (over: Partial<PermissionSetup> = {}): PermissionSetup => ({
  own: { default: 'ask', allow: [], ask: [], deny: [] },
  inherited: [],
  granted: [],
  approver: 'operator',
  timeoutMs: 60_000,
  ...over,
})

describe('permission rules', () => {
  it('match a tool by name or glob, and the call by its path or command', () => {
    expect(ruleMatches({ tool: 'Bash' }, 'Bash', 'ls')).toBe(true)
    expect(ruleMatches({ tool: 'Bash' }, 'BashOutput', 'ls')).toBe(false)
    expect(ruleMatches({ tool: 'mcp__*' }, 'mcp__github__search', undefined)).toBe(true)
    expect(ruleMatches({ tool: 'Write', path: '/workspace/*' }, 'Write', '/workspace/a/b.ts')).toBe(
      true,
    )
    expect(ruleMatches({ tool: 'Write', path: '/workspace/*' }, 'Write', '/etc/passwd')).toBe(false)
    expect(ruleMatches({ tool: 'Bash', path: 'git *' }, 'Bash', 'git status')).toBe(true)
    // A rule with a path never matches a call that acts on nothing it can read.
    expect(ruleMatches({ tool: 'Bash', path: '*' }, 'Bash', undefined)).toBe(false)
    // Regex characters in a glob are themselves.
    expect(ruleMatches({ tool: 'a.b' }, 'axb', undefined)).toBe(false)
  })

  it('deny beats ask beats allow beats the default, in each layer', () => {
    const s = setup({
      own: {
        default: 'ask',
        allow: [{ tool: 'Read' }, { tool: 'Bash' }],
        ask: [{ tool: 'Bash', path: 'git push*' }],
        deny: [{ tool: 'Bash', path: 'rm *' }],
      },
    })
    expect(decide(s, BOUNDS, 'Read', { file_path: '/x' }).verdict).toBe('allow')
    expect(decide(s, BOUNDS, 'Bash', { command: 'ls' }).verdict).toBe('allow')
    expect(decide(s, BOUNDS, 'Bash', { command: 'git push origin' }).verdict).toBe('ask')
    expect(decide(s, BOUNDS, 'Bash', { command: 'rm -rf /' }).verdict).toBe('deny')
    expect(decide(s, BOUNDS, 'Write', { file_path: '/x' }).verdict).toBe('ask')
  })

  it("the operator's deny rules win over every allow and grant", () => {
    const s = setup({
      own: { default: 'allow', allow: [{ tool: '*' }], ask: [], deny: [] },
      granted: [{ tool: 'WebFetch' }],
    })
    const bounds = { ...BOUNDS, deny: [{ tool: 'WebFetch' }] }
    expect(decide(s, bounds, 'WebFetch', { url: 'https://x' })).toMatchObject({
      verdict: 'deny',
      reason: 'the operator denies WebFetch',
    })
  })

  it("a layer above asks the operator, never the parent; a parent's grant covers only the child's own rules", () => {
    const parentLayer = { default: 'ask' as const, allow: [{ tool: 'Read' }], ask: [], deny: [] }
    const child = setup({
      own: { default: 'ask', allow: [], ask: [], deny: [] },
      inherited: [parentLayer],
      approver: 'parent',
    })
    // The parent's own rules ask for Bash: only the operator may allow it to the child.
    expect(decide(child, BOUNDS, 'Bash', { command: 'ls' })).toEqual({
      verdict: 'ask',
      approver: 'operator',
    })
    // The parent may Read unasked: the child's asking goes to the parent.
    expect(decide(child, BOUNDS, 'Read', { file_path: '/a' })).toEqual({
      verdict: 'ask',
      approver: 'parent',
    })
    // A parent's "always" (the child's own allow) does not lift what the layer above asks.
    child.own.allow.push({ tool: 'Bash' })
    expect(decide(child, BOUNDS, 'Bash', {}).verdict).toBe('ask')
    // The operator's "always" does; a deny above still wins.
    child.granted.push({ tool: 'Bash' })
    expect(decide(child, BOUNDS, 'Bash', {}).verdict).toBe('allow')
    child.inherited.push({ default: 'allow', allow: [], ask: [], deny: [{ tool: 'Bash' }] })
    expect(decide(child, BOUNDS, 'Bash', {}).verdict).toBe('deny')
  })

  it('summarizes a call by what it acts on', () => {
    expect(summarize('Bash', { command: 'touch /tmp/x', description: 'd' })).toBe(
      'Bash: touch /tmp/x',
    )
    expect(summarize('Write', { file_path: '/a', content: 'x' })).toBe('Write: /a')
    expect(summarize('Task', { n: 1 })).toBe('Task: {"n":1}')
  })
})

describe('setupFor', () => {
  it("'skip' sets nothing up, 'ask' asks for everything, with the operator's timeout", () => {
    expect(setupFor('skip', BOUNDS)).toBeUndefined()
    expect(setupFor(undefined, BOUNDS)).toBeUndefined()
    expect(setupFor('ask', BOUNDS)).toMatchObject({
      own: { default: 'ask' },
      approver: 'operator',
      timeoutMs: BOUNDS.defaultTimeoutMs,
    })
  })

  it('bounds the timeout by the operator', () => {
    const bounds = { ...BOUNDS, maxTimeoutMs: 10_000 }
    const p = workerConfigSchema.parse({ agent: 'a', permissions: { timeoutMs: 60_000 } })
    expect(setupFor(p.permissions, bounds)?.timeoutMs).toBe(10_000)
  })

  it("PERMISSIONS_MIN=ask: an unset config asks, 'skip' is refused", () => {
    const bounds = { ...BOUNDS, min: 'ask' as const }
    expect(setupFor(undefined, bounds)?.own.default).toBe('ask')
    expect(() => setupFor('skip', bounds)).toThrow(PermissionsRefusal)
  })

  it('a child of a worker that asks cannot skip, and takes its rules along', () => {
    const parent = setupFor('ask', BOUNDS)!
    expect(() => setupFor('skip', BOUNDS, parent)).toThrow(/wider than the parent/)
    const child = setupFor(undefined, BOUNDS, parent)!
    expect(child.own.default).toBe('allow')
    expect(child.inherited).toEqual([parent.own])
    expect(decide(child, BOUNDS, 'Bash', {}).verdict).toBe('ask')
    const grand = setupFor(
      { default: 'allow', allow: [], ask: [], deny: [], approver: 'parent' },
      BOUNDS,
      child,
    )!
    expect(grand.inherited).toEqual([child.own, parent.own])
    expect(decide(grand, BOUNDS, 'Bash', {})).toEqual({ verdict: 'ask', approver: 'operator' })
  })
})

describe('WorkerConfig.permissions', () => {
  it('takes skip, ask or a policy, and names the field when it is wrong', () => {
    expect(workerConfigSchema.parse({ agent: 'a', permissions: 'ask' }).permissions).toBe('ask')
    const policy = workerConfigSchema.parse({
      agent: 'a',
      permissions: { allow: [{ tool: 'Read' }], approver: 'parent' },
    }).permissions
    expect(policy).toEqual({
      default: 'ask',
      allow: [{ tool: 'Read' }],
      ask: [],
      deny: [],
      approver: 'parent',
    })
    const bad = workerConfigSchema.safeParse({ agent: 'a', permissions: 'sometimes' })
    expect(bad.error?.issues[0]).toMatchObject({
      path: ['permissions'],
      message: "must be 'skip', 'ask' or a policy object",
    })
    const badRule = workerConfigSchema.safeParse({
      agent: 'a',
      permissions: { allow: [{ tool: 'Read', paths: '/x' }] },
    })
    expect(badRule.error?.issues[0]?.path).toEqual(['permissions', 'allow', 0])
    const badDefault = workerConfigSchema.safeParse({
      agent: 'a',
      permissions: { default: 'maybe' },
    })
    expect(badDefault.error?.issues[0]).toMatchObject({ path: ['permissions'] })
    expect(badDefault.error?.issues[0]?.message).toMatch(/^default: /)
  })
})
