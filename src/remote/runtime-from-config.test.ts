import { describe, expect, it } from 'vitest'
import { MultiRuntime } from './multi-runtime.ts'
import { RemoteRuntime } from './remote-runtime.ts'
import { parseHostAgents, runtimeFromConfig } from './runtime-from-config.ts'

describe('HOST_AGENT_URL', () => {
  it('takes one URL, named by its host', () => {
    expect(parseHostAgents('http://127.0.0.1:8081/')).toEqual([
      { name: '127.0.0.1:8081', url: 'http://127.0.0.1:8081' },
    ])
    const runtime = runtimeFromConfig('http://docker-1:8081', 'token-0123456789abcdef')
    expect(runtime).toBeInstanceOf(RemoteRuntime)
    expect(runtime).toMatchObject({ name: 'docker-1:8081', url: 'http://docker-1:8081' })
  })

  it('takes several name=url pairs', () => {
    expect(parseHostAgents(' a=http://docker-a:8081 ,b=https://docker-b/agent')).toEqual([
      { name: 'a', url: 'http://docker-a:8081' },
      { name: 'b', url: 'https://docker-b/agent' },
    ])
    const runtime = runtimeFromConfig('a=http://docker-a:8081,b=http://docker-b:8081', undefined)
    expect(runtime).toBeInstanceOf(MultiRuntime)
    expect((runtime as MultiRuntime).agents.map((a) => a.name)).toEqual(['a', 'b'])
  })

  it.each([
    ['', /no URL/],
    ['docker-a:8081', /must be http/],
    ['a=not a url', /'not a url' is not a URL/],
    ['ftp://x', /must be http/],
    ['a=http://x,a=http://y', /'a' is used twice/],
    ['a b=http://x', /name 'a b'/],
  ])('refuses %j', (value, message) => {
    expect(() => parseHostAgents(value)).toThrow(message)
  })
})
