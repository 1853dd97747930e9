import type { TokenSigner } from './auth/jwt.ts'
import { WorkerKeys } from './gateway-access.ts'
import { EventBus, stampedEmit, type Emit } from './events.ts'
import { ImageResolver } from './images.ts'
import { Measures } from './measures.ts'
import { noopLogger, type Logger } from './logger.ts'
import type { PluginRegistry } from './plugin/registry.ts'
import { DEFAULT_POLICY, type WorkerPolicy } from './policy.ts'
import type { ContainerRuntime } from './runtime.ts'
import { MemorySessionStore } from './transcripts-memory.ts'
import type { SessionStore } from './transcripts.ts'

export interface WorkerServiceOptions {
  runtime: ContainerRuntime
  /** The current plugin registry; read at every create so a reload takes effect at once. */
  plugins: () => PluginRegistry
  /** Image every worker starts from (derived images are built FROM it). */
  baseImage: string
  /** Where declared secrets are read from (the spawner's environment). */
  hostEnv: Readonly<Record<string, string | undefined>>
  logger?: Logger
  /** Where status, output, response and command_exit events go. */
  events?: EventBus
  /** Largest file accepted by send_file or returned by read_file. Default 16 MiB. */
  maxFileBytes?: number
  /** Written as a label on every container this instance creates. */
  instance?: string
  /** `host:ip` entries for /etc/hosts. Default: host.docker.internal → host gateway. */
  extraHosts?: string[]
  now?: () => Date
  /** Write the last activity to the worker's state file at most this often. Default 30 s. */
  persistActivityMs?: number
  /** Signs worker tokens; with it every worker gets ORCHESTRATOR_URL / _TOKEN / _ALLOWED_TOOLS. */
  tokens?: { signer: TokenSigner; url: string }
  /**
   * Signs the state kept inside each worker. A restarted service needs the same key to know
   * its workers again (default: a random key, good for this process only).
   */
  secret?: string
  /** What plugins may ask for, and the limits on lifetimes and worker counts. */
  policy?: WorkerPolicy
  /** Reads a file on the spawner's host for plugins' `hostFiles`; absent where there is none. */
  readHostFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
  /** Where transcripts and session archives are kept (default: in this process's memory). */
  transcripts?: SessionStore
  /** Where durations and pool hits go (metrics); default: a bus nobody listens to. */
  measures?: Measures
}

/** What the parts of the service share: the options, with their defaults filled in. */
export interface CoreContext {
  readonly opts: WorkerServiceOptions
  readonly runtime: ContainerRuntime
  readonly logger: Logger
  readonly now: () => Date
  readonly policy: WorkerPolicy
  readonly maxFileBytes: number
  readonly events: EventBus
  readonly emit: Emit
  readonly images: ImageResolver
  readonly measures: Measures
  /** `opts.secret`, or a random key good for this process only. */
  readonly secret: string
  /** Workers' model gateway and egress proxy credentials. */
  readonly workerKeys: WorkerKeys
  /** Transcripts and the agents' saved sessions. */
  readonly transcripts: SessionStore
}

/** Fills in the defaults of `opts`. */
export const coreContext = (opts: WorkerServiceOptions): CoreContext => {
  const logger = opts.logger ?? noopLogger
  const now = opts.now ?? (() => new Date())
  const events = opts.events ?? new EventBus()
  const measures = opts.measures ?? new Measures()
  const emit = stampedEmit(events, now)
  const secret =
    opts.secret ??
    [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16)).join('')
  return {
    secret,
    workerKeys: new WorkerKeys(secret),
    opts,
    runtime: opts.runtime,
    logger,
    now,
    policy: opts.policy ?? DEFAULT_POLICY,
    maxFileBytes: opts.maxFileBytes ?? 16 * 1024 * 1024,
    events,
    emit,
    images: new ImageResolver(opts.runtime, logger, emit, measures),
    measures,
    transcripts: opts.transcripts ?? new MemorySessionStore({ now }),
  }
}
