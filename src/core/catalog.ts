import type { z } from 'zod'
import {
  commandTable,
  type BytesSpec,
  type CommandName,
  type CommandSpec,
  type StreamSpec,
} from './commands.ts'
import * as S from './schemas.ts'
import * as P from './permission-schemas.ts'
import type { CommandHooks, WorkerService } from './service.ts'

export type {
  BytesSpec,
  CommandName,
  CommandSpec,
  HttpBinding,
  Scope,
  StreamSpec,
} from './commands.ts'

/** Runs a command as a stream: each item goes to `emit`; the result closes the stream. */
export type StreamRun<I> = (
  service: WorkerService,
  input: I,
  hooks: CommandHooks & { signal: AbortSignal },
  /** An item of the stream; `event` names it when it is not the command's usual item. */
  emit: (item: unknown, event?: string) => void,
) => Promise<unknown>

/** A file's bytes read out of a worker, and the path they were read from. */
export interface FileBytes {
  path: string
  bytes: Uint8Array
}

/** How a command with bytes moves them without base64 (see BytesSpec). */
export interface BytesRun<I> {
  /** Writes `bytes` as the input's bytes field (which holds `''`). */
  put?: (
    service: WorkerService,
    input: I,
    bytes: Uint8Array,
    hooks: CommandHooks,
  ) => Promise<unknown>
  /** Reads the bytes the output field would hold. */
  get?: (service: WorkerService, input: I) => Promise<FileBytes>
}

/** One operation, declared once and served over both HTTP and Redis. */
export interface Command<
  I extends z.ZodType = z.ZodType,
  O extends z.ZodType = z.ZodType,
> extends Omit<CommandSpec, 'stream' | 'bytes'> {
  name: string
  input: I
  output: O
  run: (service: WorkerService, input: z.output<I>, hooks: CommandHooks) => Promise<z.output<O>>
  stream?: StreamSpec & { run: StreamRun<z.output<I>>; opens?: StreamCheck<z.output<I>> }
  bytes?: BytesSpec & BytesRun<z.output<I>>
}

/**
 * Checks a stream makes before it opens (the caller may, the path is allowed, a slot is free),
 * so that a refusal is answered with its own status rather than as the stream's first event.
 */
export type StreamCheck<I> = (
  service: WorkerService,
  input: I,
  hooks: CommandHooks,
) => Promise<void>

/** The code of a command, joined to its entry in the command table. */
interface Impl<I extends z.ZodType, O extends z.ZodType> {
  input: I
  output: O
  run: Command<I, O>['run']
  stream?: StreamRun<z.output<I>>
  /** See StreamCheck (commands with a stream). */
  opens?: StreamCheck<z.output<I>>
  bytes?: BytesRun<z.output<I>>
}

const command = <I extends z.ZodType, O extends z.ZodType>(
  name: CommandName,
  impl: Impl<I, O>,
): Command<I, O> => {
  const spec: CommandSpec = commandTable[name]
  const { stream, bytes, ...rest } = spec
  if (!stream !== !impl.stream || !bytes !== !impl.bytes) {
    throw new Error(`catalog: '${name}' must implement exactly what the command table declares`)
  }
  return {
    name,
    ...rest,
    input: impl.input,
    output: impl.output,
    run: impl.run,
    ...(stream && impl.stream
      ? { stream: { ...stream, run: impl.stream, ...(impl.opens ? { opens: impl.opens } : {}) } }
      : {}),
    ...(bytes && impl.bytes ? { bytes: { ...bytes, ...impl.bytes } } : {}),
  }
}

/** The command catalog: every operation the service offers, in one table. */
export const catalog = [
  command('create', {
    input: S.createInput,
    output: S.createOutput,
    run: (s, input, hooks) =>
      s.create(input, hooks, hooks.caller ? { parentId: hooks.caller } : undefined),
    stream: (s, input, hooks, emit) =>
      s.create(
        input,
        { ...hooks, onBuild: (progress) => emit(progress) },
        hooks.caller ? { parentId: hooks.caller } : undefined,
      ),
  }),
  command('list', { input: S.listInput, output: S.listOutput, run: (s, input) => s.list(input) }),
  command('status', {
    input: S.statusInput,
    output: S.statusOutput,
    run: (s, input) => s.status(input),
  }),
  command('send_command', {
    input: S.sendCommandInput,
    output: S.sendCommandOutput,
    run: (s, input, hooks) => s.sendCommand(input, hooks),
    stream: (s, input, hooks, emit) =>
      s.sendCommand(input, {
        ...hooks,
        onOutput: (stream, data) => emit({ stream, data }),
        onUpdate: (update, seq) => emit({ seq, update }, 'agent'),
      }),
  }),
  command('send_file', {
    input: S.sendFileInput,
    output: S.sendFileOutput,
    run: (s, input, hooks) => s.sendFile(input, hooks),
    bytes: { put: (s, input, bytes) => s.putBytes(input.workerId, input.path, bytes, input.mode) },
  }),
  command('read_file', {
    input: S.readFileInput,
    output: S.readFileOutput,
    run: (s, input) => s.readFile(input),
    bytes: { get: (s, input) => s.getBytes(input.workerId, input.path) },
  }),
  command('list_files', {
    input: S.listFilesInput,
    output: S.listFilesOutput,
    run: (s, input) => s.listFiles(input),
  }),
  command('logs', {
    input: S.logsInput,
    output: S.logsOutput,
    run: (s, input) => s.logs(input),
    stream: (s, input, hooks, emit) => s.followLogs(input, emit, hooks.signal),
  }),
  command('watch', {
    input: S.watchInput,
    output: S.watchOutput,
    run: (s, input, hooks) => s.watchEvents(input, hooks),
    stream: (s, input, hooks, emit) => s.watch(input, hooks, (change) => emit(change)),
    opens: (s, input, hooks) => s.watches.check(input, hooks.caller),
  }),
  command('pause', {
    input: S.workerRefInput,
    output: S.stateOutput,
    run: (s, input, hooks) => s.pause(input, hooks),
  }),
  command('resume', {
    input: S.workerRefInput,
    output: S.stateOutput,
    run: (s, input, hooks) => s.resume(input, hooks),
  }),
  command('update', {
    input: S.updateInput,
    output: S.statusOutput,
    run: (s, input, hooks) => s.update(input, hooks),
  }),
  command('delete', {
    input: S.workerRefInput,
    output: S.deleteOutput,
    run: (s, input, hooks) => s.delete(input, hooks),
  }),
  command('transcript', {
    input: S.transcriptInput,
    output: S.transcriptOutput,
    run: (s, input) => s.transcript(input),
  }),
  command('respond', {
    input: S.respondInput,
    output: S.respondOutput,
    run: (s, input, hooks) => s.respond(input, hooks),
  }),
  command('checkpoint', {
    input: S.workerRefInput,
    output: S.checkpointOutput,
    run: (s, input, hooks) => s.checkpoint(input, hooks),
  }),
  command('list_checkpoints', {
    input: S.workerRefInput,
    output: S.listCheckpointsOutput,
    run: (s, input) => s.listCheckpoints(input),
  }),
  command('delete_checkpoint', {
    input: S.checkpointRefInput,
    output: S.deleteCheckpointOutput,
    run: (s, input, hooks) => s.deleteCheckpoint(input, hooks),
  }),
  command('restore', {
    input: S.checkpointRefInput,
    output: S.restoreOutput,
    run: (s, input, hooks) => s.restoreCheckpoint(input, hooks),
  }),
  command('fork', {
    input: S.forkInput,
    output: S.forkOutput,
    run: (s, input, hooks) => s.fork(input, hooks),
  }),
  command('request_permission', {
    input: P.requestPermissionInput,
    output: P.requestPermissionOutput,
    run: (s, input, hooks) => s.requestPermission(input, hooks),
  }),
  command('answer_permission', {
    input: P.answerPermissionInput,
    output: P.answerPermissionOutput,
    run: (s, input, hooks) => s.answerPermission(input, hooks),
  }),
  command('permissions', {
    input: P.listPermissionsInput,
    output: P.listPermissionsOutput,
    run: (s, input) => s.listPermissions(input),
  }),
  command('plugins', {
    input: S.pluginsInput,
    output: S.pluginsOutput,
    run: async (s) => s.plugins(),
  }),
  command('build_image', {
    input: S.buildImageInput,
    output: S.buildImageOutput,
    run: (s, input, hooks) => s.buildImage(input, hooks),
    stream: (s, input, hooks, emit) =>
      s.buildImage(input, { ...hooks, onBuild: (progress) => emit(progress) }),
  }),
  command('pools', {
    input: S.poolsInput,
    output: S.poolsOutput,
    run: async (s) => s.pools(),
  }),
] as const satisfies readonly Command[]

/** Looks a command up by name. */
export const findCommand = (name: string): Command | undefined =>
  (catalog as readonly Command[]).find((c) => c.name === name)
