import type { AgentUpdate } from './plugin/updates.ts'
import { authorize, callerOf, visibleOutput, type Principal } from './auth/authorize.ts'
import { base64ToBytes, bytesToBase64 } from './bytes.ts'
import { findCommand, type Command, type FileBytes } from './catalog.ts'
import { BadRequestError, ConflictError } from './errors.ts'
import { noopLogger, type Logger } from './logger.ts'
import { pushStream } from './push-stream.ts'
import type { CommandHooks, WorkerService } from './service.ts'
import { parseInput } from './validation.ts'

/** Where commands for another instance's workers go (several instances on one Redis). */
export interface Forwarder {
  /** The instance owning `workerId` when it is not this one, and whether it is running. */
  ownerOf(workerId: string): Promise<{ instance: string; alive: boolean } | undefined>
  /** Records this instance as the owner of `workerId`, which it took over. */
  claim(workerId: string): Promise<void>
  /** Runs `command` at `owner`; resolves with its result or throws its error. */
  call(owner: string, command: string, input: unknown, opts: ForwardOptions): Promise<unknown>
}

export interface ForwardOptions {
  /** How long to wait for the answer. */
  timeoutMs: number
  /** The worker making the call: the owner applies the rules for workers to it. */
  caller?: string
  /** The command's output as it comes (commands whose stream relays `output`). */
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void
  /** The agent's updates as they come (a prompt's stream relays them too). */
  onUpdate?: (update: AgentUpdate, seq: number) => void
  /** Stops waiting (the command goes on at the owner). */
  signal?: AbortSignal
}

/** One event of a streamed command: an item, or the closing event with the result. */
export interface StreamEvent {
  event: string
  data: unknown
}

/** A streamed command: iterating runs it; stopping the iteration (or `signal`) aborts it. */
export interface CommandStream extends AsyncIterable<StreamEvent> {
  /** Events are numbered 1, 2, … (the error event too). */
  readonly numbered: boolean
}

/** What a command gives back: a result, a file's bytes, or a stream. */
export type Outcome =
  | { kind: 'result'; result: unknown }
  | ({ kind: 'bytes' } & FileBytes)
  | { kind: 'stream'; stream: CommandStream }

/** A call checked and placed: what runs once `run` is called. */
export interface PreparedCall {
  command: Command
  /** The input, validated (a bytes field holds `''` until the bytes come). */
  input: Record<string, unknown>
  principal: Principal
  /** The instance that owns the worker, when not this one; `alive` false once it stopped. */
  owner?: { instance: string; alive: boolean }
}

export interface PrepareOptions {
  /** The input's bytes field comes as raw bytes (given to `run`), not in `input`. */
  rawBytes?: boolean
  /** How errors name the input (`input` over HTTP, `payload` over Redis). */
  inputName?: string
}

export interface RunOptions {
  /** The command's stream instead of its result (commands with a `stream`). */
  stream?: boolean
  /** A file's bytes instead of JSON (commands with bytes output). */
  bytes?: boolean
  /** The raw bytes for the input's bytes field; read only once the call is allowed. */
  body?: () => Promise<Uint8Array>
  hooks?: Pick<CommandHooks, 'requestId' | 'onEffect'>
  /** Aborts a stream's command (or stops waiting for a forwarded one). */
  signal?: AbortSignal
}

export interface DispatcherOptions {
  service: WorkerService
  /** Several instances: finds owners and forwards. Without it every worker is served here. */
  forwarder?: Forwarder
  logger?: Logger
  /** Time a forwarded call waits beyond the command's own limit (default 30 s). */
  forwardSlackMs?: number
}

/**
 * Runs catalog commands for every adapter: validates the input with the command's schema,
 * authorizes the caller by the command's scope, finds the instance that owns the worker, and
 * runs the command here or forwards it there. Answers a result, a file's bytes, or a stream.
 * @example
 * const dispatcher = new Dispatcher({ service, forwarder })
 * const out = await dispatcher.execute({ kind: 'operator' }, 'status', { workerId })
 * if (out.kind === 'result') console.log(out.result)
 */
export class Dispatcher {
  readonly service: WorkerService
  private readonly forwarder: Forwarder | undefined
  private readonly logger: Logger
  private readonly slackMs: number

  constructor(opts: DispatcherOptions) {
    this.service = opts.service
    this.forwarder = opts.forwarder
    this.logger = opts.logger ?? noopLogger
    this.slackMs = opts.forwardSlackMs ?? 30_000
  }

  /** Validates, authorizes, places and runs one call. */
  async execute(
    principal: Principal,
    command: Command | string,
    input: unknown,
    opts: RunOptions & PrepareOptions = {},
  ): Promise<Outcome> {
    const rawBytes = opts.body !== undefined
    const call = await this.prepare(principal, command, input, { ...opts, rawBytes })
    return this.run(call, opts)
  }

  /**
   * What `execute` does before anything runs: validation, authorization, and the owner. An
   * owner that stopped gives its worker up to this instance when this one can reach it.
   */
  async prepare(
    principal: Principal,
    command: Command | string,
    raw: unknown,
    opts: PrepareOptions = {},
  ): Promise<PreparedCall> {
    const cmd = typeof command === 'string' ? findCommand(command) : command
    if (!cmd) {
      throw new BadRequestError(`command: unknown command '${String(command).slice(0, 100)}'`)
    }
    const field = opts.rawBytes ? cmd.bytes?.input : undefined
    const given = field ? { ...(raw as object), [field]: '' } : raw
    const what = `${cmd.name} ${opts.inputName ?? 'input'}`
    const input = parseInput(cmd.input, given, what) as Record<string, unknown>
    await authorize(principal, cmd, input, this.service)
    const owner = await this.place(cmd, input)
    return { command: cmd, input, principal, ...(owner ? { owner } : {}) }
  }

  /** Runs a prepared call here, or at its owner while that one runs. */
  async run(call: PreparedCall, opts: RunOptions = {}): Promise<Outcome> {
    const { command: cmd, input } = call
    const caller = callerOf(call.principal)
    const hooks: CommandHooks = { ...opts.hooks, ...(caller ? { caller } : {}) }
    const remote = call.owner?.alive ? call.owner.instance : undefined
    if (opts.stream && cmd.stream) {
      return { kind: 'stream', stream: await this.stream(call, remote, hooks, opts.signal) }
    }
    const bytes = opts.body && cmd.bytes?.input ? await opts.body() : undefined
    if (remote) return this.forward(call, remote, bytes, opts)
    const { put, get } = cmd.bytes ?? {}
    if (bytes && put) return this.visible(call, await put(this.service, input, bytes, hooks))
    if (opts.bytes && get) return { kind: 'bytes', ...(await get(this.service, input)) }
    return this.visible(call, await cmd.run(this.service, input, hooks))
  }

  /** Runs a prepared call for its JSON result (adapters that answer nothing else). */
  async result(call: PreparedCall, hooks?: RunOptions['hooks']): Promise<unknown> {
    const out = await this.run(call, hooks ? { hooks } : {})
    if (out.kind === 'result') return out.result
    throw new Error(`'${call.command.name}' answered ${out.kind}, not a result`)
  }

  private async visible(call: PreparedCall, output: unknown): Promise<Outcome> {
    const result = await visibleOutput(call.principal, call.command, output, this.service)
    return { kind: 'result', result }
  }

  /** The instance owning the command's worker, if not this one (see `prepare`). */
  private async place(cmd: Command, input: Record<string, unknown>) {
    const workerId = cmd.scope === 'worker' ? input.workerId : undefined
    if (!this.forwarder || typeof workerId !== 'string') return undefined
    const owner = await this.forwarder.ownerOf(workerId)
    if (!owner || owner.alive) return owner
    // Its owner is gone. If this instance's Docker host runs the worker too, serve it and take
    // it over; otherwise it stays the stopped owner's.
    if (
      !(await this.service.get(workerId).then(
        () => true,
        () => false,
      ))
    )
      return owner
    await this.service.adopt(workerId)
    await this.forwarder.claim(workerId)
    this.logger.info('worker adopted from a stopped instance', { workerId, from: owner.instance })
    return undefined
  }

  /** Runs the call at `owner`; bytes travel there in base64. */
  private async forward(
    call: PreparedCall,
    owner: string,
    bytes: Uint8Array | undefined,
    opts: RunOptions,
  ): Promise<Outcome> {
    const { command: cmd } = call
    let input = call.input
    const spec = cmd.bytes
    if (spec?.input && bytes) {
      input = { ...input, [spec.input]: bytesToBase64(bytes), [spec.encoding]: 'base64' }
    }
    const asBytes = opts.bytes && spec?.output
    if (asBytes) input = { ...input, [spec.encoding]: 'base64' }
    const forwarded = this.forwardOptions(call, opts.signal)
    const result = await this.forwarder!.call(owner, cmd.name, input, forwarded)
    if (asBytes) {
      const out = result as Record<string, unknown>
      const path = String(out[spec.path ?? 'path'] ?? '')
      return { kind: 'bytes', path, bytes: base64ToBytes(String(out[asBytes])) }
    }
    return this.visible(call, result)
  }

  private forwardOptions(call: PreparedCall, signal: AbortSignal | undefined): ForwardOptions {
    const field = call.command.timeoutField
    const own = field ? call.input[field] : undefined
    const caller = callerOf(call.principal)
    return {
      timeoutMs: (typeof own === 'number' ? own : 0) + this.slackMs,
      ...(caller ? { caller } : {}),
      ...(signal ? { signal } : {}),
    }
  }

  /** A command's stream; it opens only for a worker that exists, and only where it can run. */
  private async stream(
    call: PreparedCall,
    remote: string | undefined,
    hooks: CommandHooks,
    signal?: AbortSignal,
  ): Promise<CommandStream> {
    const { command: cmd, input } = call
    const spec = cmd.stream!
    if (remote && spec.relay === 'none') {
      throw new ConflictError(
        `'${cmd.name}' streams only from the instance that runs worker ` +
          `'${String(input.workerId)}' ('${remote}'); ask there, or ask without streaming`,
        'stream_not_forwarded',
      )
    }
    if (!remote && cmd.scope === 'worker') await this.service.get(String(input.workerId))
    if (!remote) await spec.opens?.(this.service, input, hooks)
    const events = pushStream<StreamEvent>(async (push, aborted) => {
      const emit = (data: unknown, event = spec.item) => push({ event, data })
      const result = remote
        ? await this.forwarder!.call(remote, cmd.name, input, {
            ...this.forwardOptions(call, aborted),
            onOutput: (stream, data) => emit({ stream, data }),
            onUpdate: (update, seq) => emit({ seq, update }, 'agent'),
          })
        : await spec.run(this.service, input, { ...hooks, signal: aborted }, emit)
      return { event: spec.end, data: result ?? {} }
    }, signal)
    return { numbered: spec.numbered, [Symbol.asyncIterator]: () => events[Symbol.asyncIterator]() }
  }
}
