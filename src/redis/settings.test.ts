import { describe, expect, it } from 'vitest'
import { redisNames, replyToRefusal } from './settings.ts'

describe('replyToRefusal', () => {
  const names = redisNames({
    REDIS_PREFIX: 'cli-agent',
    REDIS_COMMANDS_STREAM: 'jobs',
    REDIS_DEAD_STREAM: 'graveyard',
  })
  const allowed = (s: string) => replyToRefusal(names, s) === undefined

  it("allows the responses stream, the instances' answer streams and the producer's own", () => {
    for (const s of [
      'cli-agent:responses',
      'cli-agent:responses:instance:a',
      'my-app:answers',
      'cli-agent-x',
      'answers',
    ]) {
      expect({ s, allowed: allowed(s) }).toEqual({ s, allowed: true })
    }
  })

  it('refuses every other name the service keeps, also when renamed', () => {
    const refused = [
      'jobs',
      'graveyard',
      'graveyard:failure:jobs:1-0',
      'cli-agent:event-log',
      'cli-agent:owners',
      'cli-agent:answer:r1',
      'cli-agent:commands:instance:a',
      'cli-agent:responses:instance:',
      'cli-agent:anything',
    ]
    for (const s of refused) expect({ s, allowed: allowed(s) }).toEqual({ s, allowed: false })
    expect(replyToRefusal(names, 'jobs')).toMatch(/'jobs' is one of the service's own/)
  })
})
