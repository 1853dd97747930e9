import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { workerConfigSchema as workerConfig } from '../src/core/config.ts'
import { readSettings } from '../src/settings.ts'
import { createSpawner, type Spawner } from '../src/spawner.ts'
import { loadUiAssets } from '../src/ui/assets-node.ts'
import { launchChromium, watchProblems, type Problems } from './support/browser.ts'
import { MemoryRuntime } from './support/memory-runtime.ts'
import { registryOf, TEST_SECRET } from './support/memory-service.ts'

const ROOTS = 180
const PARENTS = 10
const CHILDREN_EACH = 2
const TOTAL = ROOTS + PARENTS * CHILDREN_EACH

/**
 * The workers page at scale: the whole service (HTTP API, event stream, dashboard) in this
 * process over the in-memory runtime, so 200 workers cost nothing on the Docker engine and the
 * figures measure the page, not container starts.
 */
describe('the workers page with 200 workers', () => {
  const run = randomBytes(4).toString('hex')
  let spawner: Spawner
  let server: ReturnType<typeof serve>
  let origin: string
  let browser: Browser
  let page: Page
  let problems: Problems
  const ids: string[] = []

  beforeAll(async () => {
    spawner = createSpawner({
      settings: readSettings({ WORKER_IMAGE: 'base' }),
      runtime: new MemoryRuntime(),
      plugins: () => registryOf(),
      hostEnv: {},
      secret: TEST_SECRET,
    })
    await spawner.start({ timers: false })
    const app = spawner.api({ ui: await loadUiAssets() })
    origin = await new Promise<string>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
        resolve(`http://127.0.0.1:${info.port}`),
      )
    })
    const config = (tier: string) => ({ agent: 'shell', labels: { 'scale-run': run, tier } })
    const create = (tier: string) => spawner.service.create({ config: parse(config(tier)) }, {})
    const roots = await Promise.all(Array.from({ length: ROOTS - PARENTS }, () => create('root')))
    // The parents last: the newest roots come first, so their trees open the page.
    const parents = []
    for (let i = 0; i < PARENTS; i++) parents.push(await create('root'))
    ids.push(...parents.map((r) => r.workerId), ...roots.map((r) => r.workerId))
    for (const parent of ids.slice(0, PARENTS)) {
      for (let i = 0; i < CHILDREN_EACH; i++) {
        const child = await spawner.service.create(
          { config: parse(config('child')) },
          {},
          { parentId: parent },
        )
        ids.push(child.workerId)
      }
    }
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    problems = watchProblems(context)
    page = await context.newPage()
  })

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
    await spawner?.close()
  })

  it('renders them all, sub-workers under their parents', async () => {
    await page.goto(`${origin}/ui?label=scale-run=${run}`)
    await page.waitForSelector(`main[data-rendered="${TOTAL}"]`)
    const ms = await page.evaluate(
      () => performance.getEntriesByName('workers:rendered')[0]!.startTime,
    )
    console.log(`workers page: ${TOTAL} workers rendered ${ms.toFixed(0)} ms after navigation`)
    // Each parent's row is followed by its children's, drawn as a tree.
    const order = await page.$$eval('#workers tbody tr', (rows) =>
      rows.map((r) => [(r as HTMLElement).dataset.workerId, r.querySelector('.tree')!.textContent]),
    )
    expect(order).toHaveLength(TOTAL)
    for (const parent of ids.slice(0, PARENTS)) {
      const at = order.findIndex(([id]) => id === parent)
      expect(order[at]![1]).toBe('')
      expect(order.slice(at + 1, at + 1 + CHILDREN_EACH).map(([, guide]) => guide)).toEqual([
        '├─ ',
        '└─ ',
      ])
    }
    await page.screenshot({ path: 'docs/screenshots/workers-200.png' })
  })

  it('stays responsive while events stream: filters apply, frames keep coming', async () => {
    await page.waitForSelector('main[data-live="open"]')
    // Frame gaps in the page from now on: a long task shows as a long gap.
    await page.evaluate(() => {
      const w = window as unknown as { gaps: number[] }
      w.gaps = []
      let last = performance.now()
      const tick = (t: number) => {
        w.gaps.push(t - last)
        last = t
        requestAnimationFrame(tick)
      }
      requestAnimationFrame(tick)
    })
    // Commands on every worker, over and over, through the HTTP API: output, exits, statuses.
    let streaming = true
    const commands = (async () => {
      let rounds = 0
      while (streaming) {
        await Promise.all(
          ids.map((id) =>
            fetch(`${origin}/v1/workers/${id}/commands`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ argv: ['echo', 'tick'] }),
            }).then((r) => r.text()),
          ),
        )
        rounds++
      }
      return rounds
    })()
    try {
      // Events are arriving while the operator filters.
      await page.waitForFunction(
        (n) => Number(document.querySelector('main')!.dataset.events) > n,
        TOTAL * 2,
      )
      // Timed in the page, from the keystroke to the table showing the match.
      const filterMs = await page.evaluate((text) => {
        const main = document.querySelector('main')!
        const input = document.querySelector<HTMLInputElement>('#filter-label')!
        const started = performance.now()
        input.value = text
        input.dispatchEvent(new Event('input'))
        return new Promise<number>((resolve) => {
          const seen = new MutationObserver(() => {
            if (main.dataset.rendered !== '20') return
            seen.disconnect()
            resolve(performance.now() - started)
          })
          seen.observe(main, { attributes: true, attributeFilter: ['data-rendered'] })
        })
      }, `scale-run=${run} tier=child`)
      expect(await page.$$eval('#workers tbody tr', (rows) => rows.length)).toBe(
        PARENTS * CHILDREN_EACH,
      )
      await page.selectOption('#filter-state', 'paused')
      await page.waitForSelector('main[data-rendered="0"]')
      await page.selectOption('#filter-state', '')
      await page.fill('#filter-label', `scale-run=${run}`)
      await page.waitForSelector(`main[data-rendered="${TOTAL}"]`)
      const events = await page.$eval('main', (m) => Number((m as HTMLElement).dataset.events))
      const gaps = await page.evaluate(() => (window as unknown as { gaps: number[] }).gaps)
      const sorted = [...gaps].sort((a, b) => a - b)
      const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
      console.log(
        `while streaming: ${events} events applied; filter to ${PARENTS * CHILDREN_EACH} rows in ${filterMs.toFixed(0)} ms; ` +
          `frame gaps p50 ${p(0.5).toFixed(0)} ms, p99 ${p(0.99).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms over ${gaps.length} frames`,
      )
      expect(events).toBeGreaterThan(TOTAL * 2)
    } finally {
      streaming = false
      console.log(`command rounds: ${await commands}`)
    }
    expect(problems.list).toEqual([])
  })
})

const parse = (c: object) => workerConfig.parse(c)
