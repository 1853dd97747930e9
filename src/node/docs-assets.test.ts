import { describe, expect, it } from 'vitest'
import { createApp } from '../http/app.ts'
import { DOCS_CSP } from '../http/docs.ts'
import { memoryService } from '../../test/support/memory-service.ts'
import { swaggerAssets } from './docs-assets.ts'

/** Script tags with a body: what the CSP would refuse to run. */
const inlineScripts = (html: string) =>
  [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].filter(
    ([, attrs, body]) => !/\bsrc=/.test(attrs!) || body!.trim() !== '',
  )

describe('/docs', () => {
  it("serves Swagger UI's bundle from node_modules, with no inline script", async () => {
    const app = createApp({ service: memoryService().service, docsAssets: swaggerAssets() })
    const page = await app.request('/docs')
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP)
    const html = await page.text()
    expect(inlineScripts(html)).toEqual([])
    expect(html).not.toMatch(/https?:\/\//)
    for (const [path, type] of [
      ['/docs/swagger-ui-bundle.js', 'text/javascript'],
      ['/docs/swagger-ui.css', 'text/css'],
      ['/docs/init.js', 'text/javascript'],
    ] as const) {
      const res = await app.request(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type'), path).toContain(type)
    }
    expect(await (await app.request('/docs/init.js')).text()).toContain('validatorUrl: null')
    // Only the files the page loads: nothing else of node_modules.
    for (const path of ['/docs/package.json', '/docs/index.html', '/docs/..%2Fpackage.json'])
      expect((await app.request(path)).status, path).toBe(404)
  })

  it('lists the operations read-only where there is no bundle, still without inline script', async () => {
    const app = createApp({ service: memoryService().service })
    const page = await app.request('/docs')
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP)
    const html = await page.text()
    expect(html).toContain('/openapi.json')
    expect(inlineScripts(html)).toEqual([])
    const script = await app.request('/docs/reference.js')
    expect(script.status).toBe(200)
    expect(await script.text()).toContain("fetch('/openapi.json')")
    expect((await app.request('/docs/swagger-ui-bundle.js')).status).toBe(404)
  })
})
