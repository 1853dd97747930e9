import { base64ToBytes } from './bytes.ts'
import { PayloadTooLargeError } from './errors.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import type { ContainerRuntime } from './runtime.ts'
import { MAX_SESSION_ARCHIVE_BYTES } from './transcripts.ts'

/** Where archives pass through in a worker: a file of the worker's own, under /tmp. */
const SCRATCH_ROOTS = ['/tmp'] as const
/**
 * The system's tools only: a worker's PATH starts in its home, where its agent could put a `tar`
 * that packs anything it likes.
 */
const SYSTEM_PATH = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }
/** How long packing or unpacking a session may take. */
const SESSION_EXEC_MS = 120_000

/**
 * Archives packed at once in this process. Each is read whole into memory (up to 64 MiB, its
 * base64 a third more), and any worker's agent can make its session files that large: without
 * a bound, many prompts ending together could exhaust the service's memory.
 */
export const MAX_CONCURRENT_PACKS = 4
let packing = 0
const packQueue: (() => void)[] = []

/** Runs `fn` once fewer than MAX_CONCURRENT_PACKS others run. */
const oneOfFew = async <T>(fn: () => Promise<T>): Promise<T> => {
  if (packing >= MAX_CONCURRENT_PACKS) await new Promise<void>((r) => packQueue.push(r))
  else packing++
  try {
    return await fn()
  } finally {
    const next = packQueue.shift()
    // The place passes to the next waiter as it is; without one it is freed.
    if (next) next()
    else packing--
  }
}

/**
 * Packs the paths (relative to $HOME, `*` expanded) that exist into a scratch file, and writes it
 * to stdout in base64, in one exec; exits 3 when none exists, 4 (its size on stderr) when the
 * archive is over $0 bytes, so nothing over the cap leaves the worker. Patterns are checked by
 * the plugin schema (letters, digits, `. _ - * /`), so the unquoted expansion only globs; what it
 * finds stays one argument each.
 */
const PACK = `cd "$HOME" || exit 1; max=$0; n=$#
for pat in "$@"; do for p in $pat; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi; done; done
shift "$n"; [ $# -gt 0 ] || exit 3
umask 077; f=$(mktemp) || exit 1; trap 'rm -f -- "$f"' EXIT
tar -czf "$f" -- "$@" || exit 1
size=$(stat -c %s -- "$f"); if [ "$size" -gt "$max" ]; then echo "$size" >&2; exit 4; fi
base64 -w 0 -- "$f"`

/** Base64 of an archive at the cap, and a little more: the exec keeps no more than this. */
const MAX_PACKED_OUTPUT = Math.ceil(MAX_SESSION_ARCHIVE_BYTES / 3) * 4 + 4

/** Unpacks the archive $0 into $HOME, then removes it. */
const UNPACK = `cd "$HOME" || exit 1; tar -xzf "$0" --no-same-owner; rc=$?; rm -f -- "$0"; exit $rc`

const scratch = () =>
  `/tmp/.workers-spawner-session-${[...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')}.tgz`

/** Why packing or unpacking failed, from the exec's answer. */
const failure = (what: string, r: { exitCode: number; stderr: string; timedOut: boolean }) =>
  new Error(
    `${what} ${r.timedOut ? 'timed out' : `exited ${r.exitCode}`}: ${r.stderr.trim().slice(-500) || 'no message'}`,
  )

/**
 * The agent CLI's session files (its plugin's `sessions.paths`), packed inside the worker as its
 * user and read out (base64 on stdout) as one opaque archive; undefined when the plugin declares
 * none or none exist yet. An archive over `MAX_SESSION_ARCHIVE_BYTES` never leaves the worker:
 * it is refused (PayloadTooLargeError).
 */
export const packSession = async (
  runtime: ContainerRuntime,
  containerId: string,
  agent: AgentPlugin,
): Promise<Uint8Array | undefined> => {
  const paths = agent.sessions?.paths.map((p) => p.slice(2))
  if (!paths?.length) return undefined
  return oneOfFew(async () => {
    const r = await runtime.exec(containerId, {
      argv: ['/bin/bash', '-c', PACK, String(MAX_SESSION_ARCHIVE_BYTES), ...paths],
      env: SYSTEM_PATH,
      timeoutMs: SESSION_EXEC_MS,
      maxOutputBytes: MAX_PACKED_OUTPUT,
    })
    if (r.exitCode === 3) return undefined
    if (r.exitCode === 4 || r.truncated || r.stdout.length >= MAX_PACKED_OUTPUT)
      throw new PayloadTooLargeError(
        `the session files pack to ${r.exitCode === 4 ? `${Number.parseInt(r.stderr.trim(), 10)} bytes` : 'more'}, over the cap of ${MAX_SESSION_ARCHIVE_BYTES}; not saved`,
      )
    if (r.exitCode !== 0) throw failure('packing the session files', r)
    return base64ToBytes(r.stdout.trim())
  })
}

/** Unpacks a saved session archive into the worker's home, inside the worker, as its user. */
export const unpackSession = async (
  runtime: ContainerRuntime,
  containerId: string,
  archive: Uint8Array,
): Promise<void> => {
  const file = scratch()
  await runtime.putFile(containerId, file, archive, { mode: 0o600, roots: SCRATCH_ROOTS })
  const r = await runtime.exec(containerId, {
    argv: ['/bin/sh', '-c', UNPACK, file],
    env: SYSTEM_PATH,
    timeoutMs: SESSION_EXEC_MS,
    maxOutputBytes: 64 * 1024,
  })
  if (r.exitCode !== 0) throw failure('unpacking the saved session', r)
}
