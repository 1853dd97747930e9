import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'

/** One JSON-RPC message as an ACP agent writes it (a line of its stdout). */
export type RpcMessage = {
  jsonrpc: '2.0'
  id?: number | string
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown> | null
  error?: { code: number; message: string; data?: unknown }
}

/** How the client answers a request the agent makes (permission, file reads, terminals). */
export type AgentRequestHandler = (
  method: string,
  params: Record<string, unknown>,
) => Promise<unknown> | unknown

/**
 * An ACP client over one `docker exec -i` (JSON-RPC 2.0, one message a line on stdio): what an
 * editor does with a local agent, run against an agent inside a worker. For measuring and
 * probing agents; it keeps every message it saw.
 */
export class AcpExec {
  readonly child: ChildProcessWithoutNullStreams
  readonly seen: RpcMessage[] = []
  stderr = ''
  private nextId = 0
  private buffer = ''
  private readonly pending = new Map<
    number,
    { resolve: (v: RpcMessage) => void; reject: (e: Error) => void }
  >()
  private readonly listeners = new Set<(m: RpcMessage) => void>()
  readonly exited: Promise<number | null>

  constructor(
    containerId: string,
    argv: string[],
    opts: { env?: Record<string, string>; workdir?: string; onRequest?: AgentRequestHandler },
  ) {
    const envArgs = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`])
    this.child = spawn('docker', [
      'exec',
      '-i',
      '-w',
      opts.workdir ?? '/workspace',
      ...envArgs,
      containerId,
      ...argv,
    ])
    this.child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d).slice(-20_000)))
    this.child.stdout.on('data', (d: Buffer) => this.push(d.toString()))
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    void this.exited.then(() => {
      for (const p of this.pending.values())
        p.reject(new Error(`agent exited: ${this.stderr.slice(-2000)}`))
      this.pending.clear()
    })
    this.onRequest = opts.onRequest ?? (() => ({}))
  }

  private readonly onRequest: AgentRequestHandler

  /** Calls `method`; rejects with the agent's error or when it exits. */
  async request(method: string, params: Record<string, unknown>): Promise<Record<string, any>> {
    const id = this.nextId++
    const answer = new Promise<RpcMessage>((resolve, reject) =>
      this.pending.set(id, { resolve, reject }),
    )
    this.write({ jsonrpc: '2.0', id, method, params })
    const m = await answer
    if (m.error) {
      const data = m.error.data === undefined ? '' : ` ${JSON.stringify(m.error.data)}`
      throw new Error(`${method}: ${m.error.code} ${m.error.message}${data}`.slice(0, 2000))
    }
    return (m.result ?? {}) as Record<string, any>
  }

  notify(method: string, params: Record<string, unknown>) {
    this.write({ jsonrpc: '2.0', method, params })
  }

  /** Called with every notification and request the agent sends; returns the remover. */
  listen(fn: (m: RpcMessage) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Ends stdin and kills the exec's client (the agent sees its stdin close). */
  async close() {
    this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await this.exited
    clearTimeout(timer)
  }

  private write(m: RpcMessage) {
    this.child.stdin.write(JSON.stringify(m) + '\n')
  }

  private push(chunk: string) {
    this.buffer += chunk
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim()
      this.buffer = this.buffer.slice(nl + 1)
      if (!line.startsWith('{')) continue
      let m: RpcMessage
      try {
        m = JSON.parse(line) as RpcMessage
      } catch {
        continue
      }
      this.seen.push(m)
      if (m.method === undefined && typeof m.id === 'number') {
        this.pending.get(m.id)?.resolve(m)
        this.pending.delete(m.id)
        continue
      }
      for (const fn of this.listeners) fn(m)
      if (m.method !== undefined && m.id !== undefined) void this.answer(m)
    }
  }

  private async answer(m: RpcMessage) {
    try {
      const result = await this.onRequest(m.method!, m.params ?? {})
      this.write({ jsonrpc: '2.0', id: m.id!, result: (result ?? {}) as Record<string, unknown> })
    } catch (err) {
      this.write({
        jsonrpc: '2.0',
        id: m.id!,
        error: { code: -32603, message: err instanceof Error ? err.message : String(err) },
      })
    }
  }
}

/** The client side of the handshake: protocol 1, no file system or terminal offered. */
export const initialize = (acp: AcpExec) =>
  acp.request('initialize', {
    protocolVersion: 1,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
    clientInfo: { name: 'workers-spawner-bench', version: '0' },
  })

/** One prompt: the updates it streamed, the text they said, its stop reason. */
export const promptTurn = async (acp: AcpExec, sessionId: string, text: string) => {
  const updates: Record<string, any>[] = []
  const off = acp.listen((m) => {
    if (m.method === 'session/update' && m.params?.sessionId === sessionId)
      updates.push(m.params.update as Record<string, any>)
  })
  try {
    const r = await acp.request('session/prompt', {
      sessionId,
      prompt: [{ type: 'text', text }],
    })
    const said = updates
      .filter((u) => u.sessionUpdate === 'agent_message_chunk' && u.content?.type === 'text')
      .map((u) => String(u.content.text))
      .join('')
    return { stopReason: String(r.stopReason), said, updates }
  } finally {
    off()
  }
}
