import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

/** Debian's chromium: `apt-get install -y chromium` (`.ci/run` installs it). */
export const CHROMIUM = '/usr/bin/chromium'

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Starts chromium, or fails naming what to install. */
export const launchChromium = (): Promise<Browser> =>
  existsSync(CHROMIUM)
    ? chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
    : Promise.reject(
        new Error(
          `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or bash .ci/run)`,
        ),
      )

/** What went wrong in a browser context: console errors, page errors, failed requests. */
export interface Problems {
  list: string[]
}

/**
 * Records every console error, uncaught page error, request that failed and response with an
 * error status, on every page of `context`. An event stream or navigation the page itself
 * cut short (ERR_ABORTED, when it navigates away or closes) is not a failure.
 */
export const watchProblems = (
  context: BrowserContext,
  allow: (what: string) => boolean = () => false,
): Problems => {
  const problems: Problems = { list: [] }
  const add = (what: string) => {
    if (!allow(what)) problems.list.push(what)
  }
  const watch = (page: Page) => {
    page.on('console', (m) => m.type() === 'error' && add(`console: ${m.text()}`))
    page.on('pageerror', (e) => add(`pageerror: ${e.message}`))
    page.on('requestfailed', (r) => {
      const reason = r.failure()?.errorText ?? ''
      if (reason === 'net::ERR_ABORTED') return
      add(`requestfailed: ${r.method()} ${r.url()} ${reason}`)
    })
    page.on(
      'response',
      (r) => r.status() >= 400 && add(`response: ${r.status()} ${r.request().method()} ${r.url()}`),
    )
  }
  context.pages().forEach(watch)
  context.on('page', watch)
  return problems
}
