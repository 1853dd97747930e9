import { randomBytes } from 'node:crypto'

/**
 * Docker has no API to kill an exec'd process, so every command is tagged: its exec carries
 * the environment entry `EXEC_ENV=<key>`, which every process it starts inherits (unless it
 * scrubs its environment). A second exec (`killCommand`) finds the tagged processes through
 * /proc and kills them with everything around them.
 */
export const EXEC_ENV = 'WORKERS_SPAWNER_EXEC'

/**
 * Where stdin files wait for their command. The Engine writes them there as root, so the
 * directory and every one above it are root-owned and closed to the worker (it could
 * otherwise turn one into a link and have root write anywhere). Mode 1733: the worker may
 * open and remove its own files by name, but not list them, and the names are random.
 * The image makes it; exec-stage.ts makes it in an older image.
 */
export const EXEC_DIR = '/run/workers-spawner/stage'

/** EXEC_DIR and the directories above it, from the top: `/run`, …, EXEC_DIR. */
export const EXEC_DIR_CHAIN: readonly string[] = EXEC_DIR.split('/')
  .slice(1)
  .map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`)

/** A fresh tag for one exec. */
export const newExecKey = (): string => randomBytes(8).toString('hex')

/** Where `exec` puts the bytes fed to the command's standard input. */
export const stdinPath = (key: string): string => `${EXEC_DIR}/${key}.stdin`

/**
 * The argv that runs `argv` for the exec tagged `key`: `argv` itself (no wrapper, no extra
 * process) unless there is stdin. Then a shell opens the stdin file, removes it and execs the
 * command; a kill that came first has removed the file, so the command never starts (exit 137).
 */
export const execCommand = (key: string, argv: string[], withStdin: boolean): string[] => {
  if (!withStdin) return argv
  // `command exec` keeps a failed redirect from aborting the shell before `exit 137`.
  const script = [
    `f=${stdinPath(key)}; command exec < $f || exit 137`,
    '/usr/bin/rm -f $f; exec "$@"',
  ].join('; ')
  return ['/bin/sh', '-c', script, 'ws-exec', ...argv]
}

/**
 * The argv that kills the exec tagged `key`. It finds the tagged processes with one `grep -z`
 * over every /proc/PID/environ (the image needs a grep with -z, such as GNU grep) and stops
 * them, then, with shell builtins only (cheap in a busy container), kills them and every
 * process in their sessions or still holding their stdout/stderr pipes (a child that scrubbed
 * its environment, started a session of its own and kept the output open, which would
 * otherwise keep the exec's stream open), then their process groups. A process that scrubbed
 * its environment, left the session and closed the output is out of reach. A command that has
 * not started yet is not found: the caller repeats the kill until the output ends. It runs
 * as a helper (see exec-helper-env.ts), so it names its programs by absolute path. The
 * session `spareSession` (the worker daemon's, for a command it ran) is never killed whole.
 */
export const killCommand = (key: string, spareSession?: number): string[] => {
  // A command the worker's daemon ran shares the daemon's session: that one is never killed.
  const spare = spareSession !== undefined && Number.isInteger(spareSession) ? spareSession : 1
  const script = [
    `i=${stdinPath(key)}; [ ! -e $i ] || /usr/bin/rm -f $i`,
    `m=$(/usr/bin/grep -lsxzF ${EXEC_ENV}=${key} /proc/[0-9]*/environ)`,
    'p=; s=" "; g=; o=',
    'for f in $m; do f=${f#/proc/}; p="$p ${f%/environ}"; done',
    '[ -n "$p" ] || exit 0',
    'kill -STOP $p 2>/dev/null',
    'for q in $p; do',
    '  read -r x < /proc/$q/stat 2>/dev/null || continue',
    '  x=${x##*) }',
    '  set -- $x',
    // Session or group 0/1 would be the container's init: never ours, never to be killed.
    `  [ "$4" -gt 1 ] && [ "$4" != ${spare} ] && s="$s$4 "`,
    '  [ "$3" -gt 1 ] && g="$g -$3"',
    // Only pipes are compared: a /dev/null here would match half the container.
    '  for r in /proc/$q/fd/1 /proc/$q/fd/2; do',
    '    [ -p $r ] || continue',
    '    for t in $o; do [ $r -ef $t ] && continue 2; done',
    '    o="$o $r"',
    '  done',
    'done',
    // Kill only after the scan: the stopped processes' fds are the reference for the loop.
    'l=',
    'for d in /proc/[0-9]*; do',
    '  q=${d#/proc/}',
    '  [ "$q" = "$$" ] && continue',
    '  read -r x < $d/stat 2>/dev/null || continue',
    '  x=${x##*) }',
    '  set -- $x',
    '  case $s in *" $4 "*) l="$l $q"; continue ;; esac',
    '  for t in $o; do',
    '    if [ $d/fd/1 -ef $t ] || [ $d/fd/2 -ef $t ]; then l="$l $q"; break; fi',
    '  done',
    'done',
    'kill -KILL $p $l 2>/dev/null',
    '[ -z "$g" ] || kill -KILL $g 2>/dev/null',
    'exit 0',
  ].join('\n')
  return ['/bin/sh', '-c', script, 'ws-kill']
}
