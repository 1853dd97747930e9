import { describe, expect, it } from 'vitest'
import { agentPluginSchema } from '../plugin/schema.ts'

const base = {
  apiVersion: 'v1',
  kind: 'agent',
  name: 'some-acp',
  version: '1.0.0',
  description: 'an agent',
}
const prompt = () => ({ argv: ['x'] })
const parse = () => ({ text: '', raw: null })
const issues = (def: object) => {
  const r = agentPluginSchema.safeParse(def)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('agent plugin: acp or prompt and parse', () => {
  it('takes an acp command instead of prompt and parse', () => {
    expect(issues({ ...base, acp: { argv: ['opencode', 'acp'], mode: 'yolo' } })).toEqual([])
    expect(issues({ ...base, prompt, parse })).toEqual([])
  })

  it('refuses both, neither, or half of the headless pair', () => {
    expect(issues({ ...base, acp: { argv: ['a'] }, prompt, parse })).toEqual([
      'acp: acp replaces prompt and parse',
    ])
    expect(issues(base)).toEqual(['prompt: required (or acp)', 'parse: required (or acp)'])
    expect(issues({ ...base, prompt })).toEqual(['parse: required (or acp)'])
    expect(issues({ ...base, acp: { argv: [] } })[0]).toMatch(/^acp\.argv/)
  })
})
