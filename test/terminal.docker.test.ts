import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const API_TOKEN = `terminal-test-${randomBytes(8).toString('hex')}`

/** One terminal client: its output so far, the exit frame and how the socket closed. */
interface Term {
  ws: WebSocket
  output(): string
  /** Resolves once the output so far matches `pattern` (the match). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  type(text: string): void
  exit: Promise<number>
  closed: Promise<{ code: number; reason: string }>
}

/** Opens a terminal; rejects with the HTTP status when the upgrade is refused. */
const openTerm = (url: string, headers: Record<string, string> = {}): Promise<Term> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    let text = ''
    const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []
    let exited!: (code: number) => void
    const exit = new Promise<number>((r) => (exited = r))
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    )
    const check = () => {
      for (const w of [...waiters]) {
        const m = text.match(w.pattern)
        if (!m) continue
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        text += data.toString()
        check()
        return
      }
      const frame = JSON.parse(data.toString()) as { type: string; code: number }
      if (frame.type === 'exit') exited(frame.code)
    })
    ws.once('unexpected-response', (_req, res) =>
      reject(
        Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }),
      ),
    )
    ws.once('error', reject)
    ws.once('open', () =>
      resolve({
        ws,
        output: () => text,
        waitFor: (pattern) =>
          new Promise((res) => {
            waiters.push({ pattern, resolve: res })
            check()
          }),
        type: (data) => ws.send(JSON.stringify({ type: 'input', data })),
        exit,
        closed,
      }),
    )
  })

/** The HTTP status an upgrade was refused with (undefined: it was not). */
const refusal = (p: Promise<Term>) =>
  p.then(
    (t) => {
      t.ws.terminate()
      return undefined
    },
    (err: { status?: number }) => err.status,
  )

/** A spawner process with its own instance name, and everything it made removed afterwards. */
const spawnerFor = (env: Record<string, string>) => {
  const instance = `term-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const state = {} as { spawner: SpawnerProcess; call: ReturnType<typeof spawnerClient> }
  beforeAll(async () => {
    state.spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: API_TOKEN,
      ...env,
    })
    state.call = spawnerClient(state.spawner, API_TOKEN)
  })
  afterAll(async () => {
    await state.spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })
  const create = async (config: Record<string, unknown> = {}) => {
    const r = await state.call('POST', '/v1/workers', { agent: 'shell', ...config })
    expect(r.status, JSON.stringify(r.json)).toBe(201)
    return r.json.workerId as string
  }
  const shell = async (workerId: string, script: string) => {
    const r = await state.call('POST', `/v1/workers/${workerId}/commands`, { shell: script })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    return r.json as { exitCode: number; stdout: string; stderr: string }
  }
  const urlOf = (workerId: string, query = '') =>
    `ws://127.0.0.1:${state.spawner.port}/v1/workers/${workerId}/terminal${query}`
  const operator = { authorization: `Bearer ${API_TOKEN}` }
  return { state, create, shell, urlOf, operator }
}

describe('a terminal into a worker (npm start, real WebSocket)', () => {
  const s = spawnerFor({})
  let workerId: string

  beforeAll(async () => {
    workerId = await s.create({ allowedTools: ['terminal'] })
  })

  it('runs a login shell as uid 1000 in the workdir, at the size asked, resizable', async () => {
    const term = await openTerm(s.urlOf(workerId, '?cols=100&rows=30'), s.operator)
    // What is typed is echoed: the markers are built by the shell, so only its output matches.
    term.type('echo "h""i"; echo "U$(id -u)U D$(pwd)D S$(stty size)S"\r')
    await term.waitFor(/\bhi\r\n/)
    const [, uid, dir, size] = (await term.waitFor(/U(\d+)U D(\S+)D S(\d+ \d+)S/)) as string[]
    expect({ uid, dir, size }).toEqual({ uid: '1000', dir: '/workspace', size: '30 100' })

    term.ws.send(JSON.stringify({ type: 'resize', cols: 132, rows: 43 }))
    term.type('echo "R$(stty size)R"\r')
    expect((await term.waitFor(/R(\d+ \d+)R/))[1]).toBe('43 132')

    term.type('exit 3\r')
    expect(await term.exit).toBe(3)
    expect((await term.closed).code).toBe(1000)
  })

  it('kills the shell and what it started when the client goes', async () => {
    const term = await openTerm(s.urlOf(workerId), s.operator)
    term.type('sleep 4242 & echo "P$$P"\r')
    const pid = (await term.waitFor(/P(\d+)P/))[1]!
    expect((await s.shell(workerId, 'ps -eo args')).stdout).toContain('sleep 4242')
    term.ws.terminate()
    // Waits on the processes, inside the worker, for as long as the kill may take.
    const gone = await s.shell(
      workerId,
      `for i in $(seq 300); do if ! [ -d /proc/${pid} ] && ! ps -eo args | grep -q '^sleep 4242'; then exit 0; fi; sleep 0.1; done; exit 1`,
    )
    expect(gone.exitCode, 'the shell or its child is still running').toBe(0)
  })

  it('ends when the shell exits, a background job of its still running', async () => {
    const term = await openTerm(s.urlOf(workerId), s.operator)
    term.type('sleep 4343 & exit 5\r')
    expect(await term.exit).toBe(5)
    expect((await term.closed).code).toBe(1000)
    // As after an ssh logout: what the shell left in the background goes on.
    expect((await s.shell(workerId, 'ps -eo args')).stdout).toContain('sleep 4343')
  })

  it('opens several terminals into one worker at once', async () => {
    const terms = await Promise.all([1, 2, 3].map(() => openTerm(s.urlOf(workerId), s.operator)))
    terms.forEach((t, i) => t.type(`echo "T$((${i} + 40))T"\r`))
    await Promise.all(terms.map((t, i) => t.waitFor(new RegExp(`T${i + 40}T`))))
    for (const t of terms) t.type('exit\r')
    expect(await Promise.all(terms.map((t) => t.exit))).toEqual([0, 0, 0])
  })

  it('resumes a paused worker first', async () => {
    const paused = await s.create()
    expect((await s.state.call('POST', `/v1/workers/${paused}/pause`)).status).toBe(200)
    const term = await openTerm(s.urlOf(paused), s.operator)
    term.type('echo "A$((6 * 7))A"\r')
    await term.waitFor(/A42A/)
    expect((await s.state.call('GET', `/v1/workers/${paused}`)).json.state).toBe('running')
    term.type('exit\r')
    await term.closed
  })

  it('refuses no token, a foreign worker token, a token without the tool and another site', async () => {
    const other = await s.create({ allowedTools: ['status'] })
    const tokenOf = async (id: string) =>
      (await s.shell(id, 'printf %s "$ORCHESTRATOR_TOKEN"')).stdout
    const [mine, theirs] = [await tokenOf(workerId), await tokenOf(other)]
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

    expect(await refusal(openTerm(s.urlOf(workerId)))).toBe(401)
    // A worker with the tool, into a worker that is not its own; one without it, into itself.
    expect(await refusal(openTerm(s.urlOf(other), bearer(mine)))).toBe(403)
    expect(await refusal(openTerm(s.urlOf(other), bearer(theirs)))).toBe(403)
    const origin = `http://127.0.0.1:${s.state.spawner.port}`
    expect(
      await refusal(openTerm(s.urlOf(workerId), { ...s.operator, origin: 'http://evil.example' })),
    ).toBe(403)

    // The same page of the service itself, and the worker with the tool into itself, pass.
    expect(await refusal(openTerm(s.urlOf(workerId), { ...s.operator, origin }))).toBeUndefined()
    const own = await openTerm(s.urlOf(workerId), bearer(mine))
    own.type('echo "W$(id -u)W"\r')
    await own.waitFor(/W1000W/)
    own.type('exit\r')
    await own.closed
  })
})

describe('terminal limits (TERMINAL_IDLE_SECONDS=1, TERMINAL_MAX_PER_WORKER=1)', () => {
  const s = spawnerFor({ TERMINAL_IDLE_SECONDS: '1', TERMINAL_MAX_PER_WORKER: '1' })

  it('closes an idle terminal with 4408, after an exit frame', async () => {
    const workerId = await s.create()
    const term = await openTerm(s.urlOf(workerId), s.operator)
    const { code, reason } = await term.closed
    expect(code).toBe(4408)
    expect(reason).toMatch(/idle/)
    expect(await term.exit).toBe(137)
  })

  it('closes a terminal past the cap with 4429 too_many_terminals', async () => {
    const workerId = await s.create()
    const first = await openTerm(s.urlOf(workerId), s.operator)
    const second = await openTerm(s.urlOf(workerId), s.operator)
    const { code, reason } = await second.closed
    expect(code).toBe(4429)
    expect(reason).toMatch(/^too_many_terminals: /)
    first.ws.terminate()
  })
})

describe('a terminal when the service stops', () => {
  const s = spawnerFor({})

  it('kills the shell, sends an exit frame and closes 1001; the process exits', async () => {
    const workerId = await s.create()
    const term = await openTerm(s.urlOf(workerId), s.operator)
    term.type('echo "B$((1 + 1))B"\r')
    await term.waitFor(/B2B/)
    await s.state.spawner.kill('SIGTERM')
    expect(await term.exit).toBe(137)
    expect((await term.closed).code).toBe(1001)
  })
})
