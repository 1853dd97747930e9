import { describe, expect, it } from 'vitest'
import { DERIVED_REPOSITORY, derivedImageTag, renderDockerfile } from './images.ts'

describe('derived images', () => {
  it('tags by base and ordered steps', async () => {
    const a = await derivedImageTag('base:1', [{ apt: ['git'] }, { npm: ['x@1'] }])
    expect(a).toMatch(new RegExp(`^${DERIVED_REPOSITORY}:[0-9a-f]{16}$`))
    expect(await derivedImageTag('base:1', [{ apt: ['git'] }, { npm: ['x@1'] }])).toBe(a)
    expect(await derivedImageTag('base:1', [{ npm: ['x@1'] }, { apt: ['git'] }])).not.toBe(a)
    expect(await derivedImageTag('base:2', [{ apt: ['git'] }, { npm: ['x@1'] }])).not.toBe(a)
  })

  it('uses the base itself when there are no steps', async () => {
    expect(await derivedImageTag('base:1', [])).toBe('base:1')
  })

  it('renders steps as root and ends as worker, quoting package names', () => {
    const file = renderDockerfile('base:1', [
      { apt: ['git', 'jq'] },
      { pip: ['requests>=2'] },
      { run: 'echo hi' },
    ])
    const lines = file.trim().split('\n')
    expect(lines[0]).toBe('FROM base:1')
    expect(lines[1]).toBe('USER root')
    expect(file).toContain("apt-get install -y --no-install-recommends 'git' 'jq'")
    expect(file).toContain("'requests>=2'")
    expect(file).toContain('RUN ["/bin/bash","-euo","pipefail","-c","echo hi"]')
    expect(lines.at(-1)).toBe('USER worker')
  })
})
