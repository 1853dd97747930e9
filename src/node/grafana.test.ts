import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { memoryService } from '../../test/support/memory-service.ts'
import { redisNames } from '../redis/index.ts'
import { createMetrics } from './metrics.ts'

const dashboard = JSON.parse(
  readFileSync(new URL('../../docs/grafana/workers-spawner.json', import.meta.url), 'utf8'),
) as { panels: { targets?: { expr: string }[] }[] }

describe('docs/grafana/workers-spawner.json', () => {
  it('queries only metrics the service exports', () => {
    // The Redis gauges exist with REDIS_URL: a stand-in adapter registers them (none is read).
    const redis = { consumer: { names: redisNames({ REDIS_PREFIX: 'ws' }) } } as never
    const metrics = createMetrics({ service: memoryService().service, redis })
    const names = new Set(
      metrics.registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name),
    )
    const queried = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .flatMap((t) => [...t.expr.matchAll(/\b((?:spawner|process|nodejs)_[a-z0-9_]+)/g)])
      .map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''))
    expect(queried.length).toBeGreaterThan(20)
    expect(queried.filter((name) => !names.has(name))).toEqual([])
    metrics.close()
  })
})
