/** Where opencode keeps its global config and plugins (`~` is the worker's home). */
const DIR = '~/.config/opencode'

/**
 * An opencode plugin, as source: opencode retries a failing model 5 times with doubling waits
 * (about 70 s in all) and has no setting for it. On the retry past `OPENCODE_MAX_RETRIES` this
 * stops the session and says why on stderr; the run then ends with no result and that message.
 */
const RETRY_CAP = `export const RetryCap = async ({ client }) => ({
  event: async ({ event }) => {
    const { sessionID, status } = event.properties ?? {}
    const max = Number(process.env.OPENCODE_MAX_RETRIES)
    if (event.type !== 'session.status' || status?.type !== 'retry') return
    if (!Number.isInteger(max) || max < 0 || status.attempt <= max) return
    console.error(\`opencode gave up after \${max} retries (OPENCODE_MAX_RETRIES): \${status.message}\`)
    await client.session.abort({ path: { id: sessionID } })
  },
})
`

/**
 * The files that install the retry cap in the config folder `dir`. A config folder with a plugin makes opencode fetch
 * `@opencode-ai/plugin` from npm unless its `node_modules` exists and its lock file already
 * lists that package; the cap imports nothing, so these say so and nothing is downloaded.
 */
export const retryCapFiles = (dir: string) => ({
  [`${dir}/plugins/retry-cap.js`]: RETRY_CAP,
  [`${dir}/package-lock.json`]: {
    packages: { '': { dependencies: { '@opencode-ai/plugin': '*' } } },
  },
  [`${dir}/node_modules/.keep`]: '',
})

/** The retry cap in the worker's own config folder. */
export const RETRY_CAP_FILES = retryCapFiles(DIR)
