import { randomBytes } from 'node:crypto'

/**
 * Docker has no API to kill an exec'd process, so every command is tagged: its exec carries
 * the environment entry `EXEC_ENV=<key>`, which every process it starts inherits (unless it
 * scrubs its environment). A second exec (`killCommand`) finds the tagged processes through
 * /proc and kills them with everything around them.
 */
export const EXEC_ENV = 'WORKERS_SPAWNER_EXEC'

/**
 * Where stdin files wait for their command. The directory is 1777, like /tmp, so execs as
 * different users can share it.
 */
export const EXEC_DIR = '/tmp/.ws-exec'

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
  const script = `f=${stdinPath(key)}; command exec < $f || exit 137; rm -f $f; exec "$@"`
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
 * not started yet is not found: the caller repeats the kill until the output ends.
 */
export const killCommand = (key: string): string[] => {
  const script = [
    `i=${stdinPath(key)}; [ ! -e $i ] || rm -f $i`,
    `m=$(grep -lsxzF ${EXEC_ENV}=${key} /proc/[0-9]*/environ)`,
    'p=; s=" "; g=; o=',
    'for f in $m; do f=${f#/proc/}; p="$p ${f%/environ}"; done',
    '[ -n "$p" ] || exit 0',
    'kill -STOP $p 2>/dev/null',
    'for q in $p; do',
    '  read -r x < /proc/$q/stat 2>/dev/null || continue',
    '  x=${x##*) }',
    '  set -- $x',
    // Session or group 0/1 would be the container's init: never ours, never to be killed.
    '  [ "$4" -gt 1 ] && s="$s$4 "',
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
