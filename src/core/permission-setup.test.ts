import { describe, expect, it } from 'vitest'
import { permitCommand } from './permission-setup.ts'

describe('permitCommand', () => {
  it('runs the CLI by its path in a clean environment, with the address the service chose', () => {
    const cmd = permitCommand('unix:///run/workers-spawner/api/api.sock', 'claude')
    expect(cmd).toBe(
      "env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/worker ORCHESTRATOR_URL='unix:///run/workers-spawner/api/api.sock' ORCHESTRATOR_TOKEN=\"$ORCHESTRATOR_TOKEN\" /usr/local/bin/orchestrator permit --format 'claude'",
    )
    expect(permitCommand("http://h/'x", "a'b")).toContain(`'http://h/'\\''x'`)
  })
})
