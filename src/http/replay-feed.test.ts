import { describe, expect, it } from 'vitest'
import { memoryService } from '../../test/support/memory-service.ts'
import { EventBus, type SpawnerEvent } from '../core/events.ts'
import { createApp } from './app.ts'
import { ReplayFeed, type NumberedEvent } from './replay-feed.ts'

const status = (workerId: string): SpawnerEvent => ({
  type: 'status',
  workerId,
  state: 'running',
  reason: 'request',
  at: '2026-06-01T00:00:00.000Z',
})

describe('events a client can resume', () => {
  it('numbers events and replays those after the last id seen, then goes on live', () => {
    const bus = new EventBus()
    const replay = new ReplayFeed(bus)
    const first: NumberedEvent[] = []
    const stop = replay.subscribe((e) => first.push(e))
    bus.publish(status('w-a'))
    bus.publish(status('w-b'))
    stop()
    bus.publish(status('w-c'))
    bus.publish(status('w-d'))
    const last = first.at(-1)!.id
    expect(replay.resumable(last)).toBe(true)
    const second: NumberedEvent[] = []
    replay.subscribe((e) => second.push(e), last)
    bus.publish(status('w-e'))
    expect(second.map((e) => e.event.workerId)).toEqual(['w-c', 'w-d', 'w-e'])
    expect(new Set([...first, ...second].map((e) => e.id)).size).toBe(5)
  })

  it('says when it cannot: an id of another run, or older than what it keeps', () => {
    const bus = new EventBus()
    const replay = new ReplayFeed(bus, { events: 3, bytes: 1 << 20 })
    const seen: NumberedEvent[] = []
    replay.subscribe((e) => seen.push(e))
    for (const id of ['w-1', 'w-2', 'w-3', 'w-4', 'w-5']) bus.publish(status(id))
    expect(replay.resumable(seen[1]!.id)).toBe(true) // 3, 4, 5 are kept
    expect(replay.resumable(seen[0]!.id)).toBe(false) // 2 is gone
    expect(replay.resumable(`ffffffff.${seen[4]!.id.split('.')[1]}`)).toBe(false)
    expect(replay.resumable('junk')).toBe(false)
  })

  it('serves Last-Event-ID on GET /v1/events, and a gap event when it cannot resume', async () => {
    const { service } = memoryService()
    const app = createApp({ service })
    const read = async (headers: Record<string, string>, until: string) => {
      const res = await app.request('/v1/events', { headers })
      const reader = res.body!.getReader()
      let text = ''
      while (!text.includes(until)) text += new TextDecoder().decode((await reader.read()).value)
      await reader.cancel()
      return text
    }
    const opened = app.request('/v1/events')
    const res = await opened
    const reader = res.body!.getReader()
    service.events.publish(status('w-0000000000000001'))
    let text = ''
    while (!text.includes('w-0000000000000001'))
      text += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()
    const id = /^id: (.+)$/m.exec(text)![1]!
    service.events.publish(status('w-0000000000000002'))
    const resumed = await read({ 'last-event-id': id }, 'w-0000000000000002')
    expect(resumed).not.toContain('w-0000000000000001')
    expect(resumed).not.toContain('event: gap')
    const lost = await read({ 'last-event-id': 'elsewhere.7' }, 'event: gap')
    expect(lost).toContain('"after":"elsewhere.7"')
  })
})
