import Dockerode from 'dockerode'
import { bridgeGateway } from '../../../src/node/auth-setup.ts'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request the stub received, for assertions (e.g. "the second turn carried the first"). */
export interface RecordedRequest {
  provider: string
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: unknown
  /** The raw body text: what the CLI sent, history included. */
  text: string
}

/** Speaks one provider's API. */
export interface ProviderHandler {
  name: string
  match(method: string, path: string): boolean
  handle(ctx: {
    req: IncomingMessage
    res: ServerResponse
    body: unknown
    text: string
    answer: string
  }): void | Promise<void>
}

const QUESTION = /What is (-?\d+) \+ (-?\d+)\?/g

/** The stub's whole intelligence: the last "What is A + B?" in the request, answered with the sum. */
export const answerFor = (text: string): string => {
  const all = [...text.matchAll(QUESTION)]
  const last = all.at(-1)
  return last ? String(Number(last[1]) + Number(last[2])) : 'I only do sums.'
}

const RUN = /Run the command: ([^\n]+)/g

/**
 * The command a prompt asks the stub to run (`Run the command: <cmd>`, the last one in `text`),
 * if it asks: the stub then answers with a call of the CLI's shell tool instead of text.
 */
export const commandToRun = (text: string): string | undefined => {
  const last = [...text.matchAll(RUN)].at(-1)
  const cmd = last?.[1]?.trim().replace(/^`(.*)`$/, '$1')
  return cmd || undefined
}

/** Shell tool names of the agent CLIs, most likely first. */
export const SHELL_TOOLS = [
  'Bash',
  'bash',
  'shell',
  'run_shell_command',
  'exec_command',
  'local_shell',
  'Execute',
  'execute',
]

/** The shell tool among the names a request offers, if any. */
export const shellToolOf = (names: readonly string[]): string | undefined =>
  SHELL_TOOLS.find((n) => names.includes(n)) ?? names.find((n) => /bash|shell|exec/i.test(n))

/** A tool result that says the call was refused rather than run. */
const REFUSAL = /denied|blocked|not allowed|permission|hook/i

/**
 * The stub's reply once its tool call came back: `Tool result: <output>` when the tool ran,
 * `Denied: <why>` when the CLI refused to run it, `Tool error: <text>` when it failed.
 */
export const afterToolReply = (result: string, isError: boolean): string => {
  const text = result.trim()
  if (!isError) return `Tool result: ${text}`
  return REFUSAL.test(text) ? `Denied: ${text}` : `Tool error: ${text}`
}

/**
 * A local model server speaking enough of each provider's API for the agent CLIs to finish a
 * turn. Containers reach it through the Docker host gateway.
 */
export class StubModel {
  readonly requests: RecordedRequest[] = []
  private server: Server | undefined

  constructor(private readonly handlers: ProviderHandler[]) {}

  /** Listens on `host` (the Docker bridge gateway by default); returns the port. */
  async start(host?: string): Promise<number> {
    const bind = host ?? (await dockerGatewayIp())
    this.server = createServer((req, res) => void this.serve(req, res))
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(0, bind, () => resolve())
    })
    return (this.server.address() as AddressInfo).port
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port
  }

  /** Base URL as containers see it (`host.docker.internal` maps to the gateway). */
  urlForContainers(path = ''): string {
    return `http://host.docker.internal:${this.port}${path}`
  }

  /** Requests whose body contains `needle`. */
  requestsWith(needle: string): RecordedRequest[] {
    return this.requests.filter((r) => r.text.includes(needle))
  }

  async stop() {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    )
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {
      // not JSON: kept as text
    }
    const path = req.url ?? '/'
    const handler = this.handlers.find((h) => h.match(req.method ?? 'GET', path))
    this.requests.push({
      provider: handler?.name ?? 'none',
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      text,
    })
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `stub: no handler for ${req.method} ${path}` } }))
      return
    }
    try {
      await handler.handle({ req, res, body, text, answer: answerFor(text) })
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: String(err) } }))
    }
  }
}

/** The Docker bridge's gateway address: where `host.docker.internal:host-gateway` points. */
export const dockerGatewayIp = async (): Promise<string> => {
  const ip = await bridgeGateway(new Dockerode())
  if (!ip) throw new Error('no gateway address for the Docker bridge network')
  return ip
}

/** Writes one server-sent event. */
export const sse = (res: ServerResponse, event: string | undefined, data: unknown) => {
  if (event) res.write(`event: ${event}\n`)
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
}

export const startSse = (res: ServerResponse) =>
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
