import type { Logger } from '../logger.ts'
import type { SpawnedCommand, SpawningRuntime } from '../runtime.ts'
import { RpcLines, type RequestHandler } from './rpc.ts'

/** The ACP protocol version the core speaks. */
export const ACP_PROTOCOL_VERSION = 1

/** How much of the agent's stderr is kept, to say why it failed. */
const STDERR_TAIL = 4000

/** What starting an agent takes. */
export interface AcpStart {
  runtime: SpawningRuntime
  containerId: string
  argv: string[]
  env: Record<string, string>
  workdir: string
  /** The session mode to put every session in (`session/set_mode`), if any. */
  mode?: string
  /** Answers the agent's requests (permissions); anything else is refused. */
  onRequest: RequestHandler
  logger: Logger
}

/** A notification of the agent, with the JSON-RPC line it came as. */
export type AcpListener = (method: string, params: Record<string, unknown>) => void

const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

/**
 * One agent speaking ACP on the stdio of a long-lived command in a worker: started and
 * initialized once, then asked for sessions and prompts. It knows which sessions are live in
 * it; an earlier process's session is loaded (`session/load`) when the agent can.
 */
export class AcpProcess {
  /** Sessions this process holds (made or loaded here). */
  private readonly live = new Set<string>()
  private stderr = ''
  private endedWith: Error | undefined
  private loadSession = false

  private constructor(
    private readonly cmd: SpawnedCommand,
    private readonly rpc: RpcLines,
    private readonly start: AcpStart,
  ) {}

  /** Starts the command and runs the handshake; the process is killed when that fails. */
  /** The container it runs in (a restored worker has a new one). */
  get containerId(): string {
    return this.start.containerId
  }

  static async start(start: AcpStart): Promise<AcpProcess> {
    let push: (chunk: string) => void = () => {}
    let keep: (chunk: string) => void = () => {}
    const cmd = await start.runtime.spawn(start.containerId, {
      argv: start.argv,
      env: start.env,
      workdir: start.workdir,
      onOutput: (stream, chunk) => (stream === 'stdout' ? push(chunk) : keep(chunk)),
    })
    const rpc = new RpcLines((line) => cmd.write(line), start.onRequest)
    const p = new AcpProcess(cmd, rpc, start)
    push = (chunk) => rpc.push(chunk)
    keep = (chunk) => (p.stderr = (p.stderr + chunk).slice(-STDERR_TAIL))
    void cmd.exited.then((code) => {
      p.endedWith = new Error(`the agent exited (${code}): ${p.stderrTail() || 'no output'}`)
      rpc.close(p.endedWith)
    })
    try {
      const init = (await rpc.request('initialize', {
        protocolVersion: ACP_PROTOCOL_VERSION,
        // Nothing of the client's is offered: the agent reads and runs things itself, inside.
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: 'workers-spawner', version: '1' },
      })) as { agentCapabilities?: { loadSession?: unknown } } | null
      p.loadSession = init?.agentCapabilities?.loadSession === true
    } catch (err) {
      await p.kill()
      throw err
    }
    return p
  }

  /** Whether the command has ended (it is then of no more use). */
  get ended(): boolean {
    return this.endedWith !== undefined
  }

  /** The last of what the agent said on stderr. */
  stderrTail(): string {
    return this.stderr.trim()
  }

  /**
   * The session to prompt: a new one, this process's own, or an earlier process's loaded here
   * (its history replayed by the agent is not this prompt's, so nobody listens to it).
   */
  async session(sessionId: string | undefined, cwd: string): Promise<string> {
    if (sessionId && this.live.has(sessionId)) return sessionId
    let id: string
    if (sessionId) {
      if (!this.loadSession)
        throw new Error(`session '${sessionId}' is not live and the agent cannot load one`)
      await this.rpc.request('session/load', { sessionId, cwd, mcpServers: [] })
      id = sessionId
    } else {
      const made = (await this.rpc.request('session/new', { cwd, mcpServers: [] })) as {
        sessionId?: unknown
      } | null
      const given = str(made?.sessionId)
      if (!given) throw new Error('session/new answered no sessionId')
      id = given
    }
    if (this.start.mode) {
      await this.rpc.request('session/set_mode', { sessionId: id, modeId: this.start.mode })
    }
    this.live.add(id)
    return id
  }

  /** Sends a prompt; `listen` gets the agent's notifications until it is answered. */
  async prompt(sessionId: string, text: string, listen: AcpListener): Promise<unknown> {
    const off = this.rpc.listen(listen)
    try {
      return await this.rpc.request('session/prompt', {
        sessionId,
        prompt: [{ type: 'text', text }],
      })
    } finally {
      off()
    }
  }

  /** Asks the agent to stop the session's prompt; it answers that prompt `cancelled`. */
  cancel(sessionId: string): void {
    this.rpc.notify('session/cancel', { sessionId })
  }

  /** Closes its stdin: the agent ends by itself (works on a paused container once unpaused). */
  end(): void {
    this.cmd.end()
  }

  /** Kills it and everything it started. */
  async kill(): Promise<void> {
    try {
      await this.cmd.kill()
    } catch (err) {
      this.start.logger.warn('acp agent kill failed', {
        containerId: this.start.containerId,
        error: err instanceof Error ? err.message : String(err),
      })
    }
  }
}
