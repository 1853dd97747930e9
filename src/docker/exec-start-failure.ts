type StreamName = 'stdout' | 'stderr'
type OnOutput = (stream: StreamName, chunk: string) => void

const ENGINE_ERROR = /^OCI runtime exec failed: [^\n]*\r?\n$/
const NOT_FOUND = /executable file not found|no such file or directory/

/** An exec the Engine could not start, read as a shell would report it. */
export interface StartFailure {
  exitCode: number
  message: string
}

/**
 * Recognises an exec whose command could not be started (missing binary, no permission):
 * the Engine ends it with exit code 126 and writes its error to the exec's stdout. Returns
 * what a shell would have said: exit 127 when the command was not found, else 126, and the
 * message as stderr.
 */
export const startFailure = (
  exitCode: number,
  stdout: string,
  stderr: string,
): StartFailure | undefined => {
  if ((exitCode !== 126 && exitCode !== 127) || stderr || !ENGINE_ERROR.test(stdout)) return
  return { exitCode: NOT_FOUND.test(stdout) ? 127 : 126, message: `${stdout.trimEnd()}\n` }
}

/**
 * Wraps `onOutput` so that a first stdout chunk that looks like the Engine's start error is
 * held back until more output arrives or `settle` is called: a stream client then sees the
 * error on stderr, as the result has it, instead of on stdout.
 */
export class StartFailureGate {
  #held: string | undefined
  #first = true
  readonly #onOutput: OnOutput

  constructor(onOutput: OnOutput) {
    this.#onOutput = onOutput
  }

  /** The callback to hand to `ExecOutput`. */
  readonly onOutput: OnOutput = (stream, chunk) => {
    if (this.#first && stream === 'stdout' && chunk.startsWith('OCI runtime exec failed: ')) {
      this.#first = false
      this.#held = chunk
      return
    }
    this.#first = false
    this.#release()
    this.#onOutput(stream, chunk)
  }

  /** Passes on a held chunk: as `failure.message` on stderr if the start failed, else as is. */
  settle(failure: StartFailure | undefined): void {
    if (failure && this.#held !== undefined) {
      this.#held = undefined
      this.#onOutput('stderr', failure.message)
    }
    this.#release()
  }

  #release(): void {
    const held = this.#held
    this.#held = undefined
    if (held !== undefined) this.#onOutput('stdout', held)
  }
}
