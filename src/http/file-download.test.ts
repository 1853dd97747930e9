import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { defineAgent } from '../core/plugin/contract.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import { WorkerService } from '../core/service.ts'
import { createApp } from './app.ts'

const registry = PluginRegistry.fromModules([
  {
    name: 'shell',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'shell',
        version: '1.0.0',
        description: 'd',
        prompt: (r) => ({ argv: ['bash', '-c', r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
])

describe('GET /v1/workers/:id/files', () => {
  it('serves what the worker wrote as a download no browser renders on the service origin', async () => {
    const runtime = new MemoryRuntime()
    runtime.images.set('img', 'sha256:img')
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'img',
      hostEnv: {},
    })
    const app = createApp({ service })
    const created = await app.request('/v1/workers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'shell' }),
    })
    const { workerId } = (await created.json()) as { workerId: string }
    // The agent writes a page; the operator opens its download link in a new tab.
    const path = '/workspace/page.html'
    const url = `/v1/workers/${workerId}/files?path=${encodeURIComponent(path)}`
    const put = await app.request(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: '<script>fetch("/v1/workers",{method:"POST"})</script>',
    })
    expect(put.status).toBeLessThan(300)
    const res = await app.request(url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="page.html"`)
    expect(res.headers.get('content-security-policy')).toBe('sandbox')
  })
})
