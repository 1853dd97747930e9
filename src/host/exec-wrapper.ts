import { randomBytes } from 'node:crypto'

/**
 * Docker has no API to kill an exec'd process, so every command runs as the leader of its
 * own session (`setsid -w`), records its pid under EXEC_DIR, and can later be killed —
 * with everything it started — by a second exec (`killCommand`). The directory is 1777,
 * like /tmp, so execs as different users can share it.
 */
export const EXEC_DIR = '/tmp/.ws-exec'

/** A fresh name for one exec's files under EXEC_DIR. */
export const newExecKey = (): string => randomBytes(8).toString('hex')

/** Where `exec` puts the bytes fed to the command's standard input. */
export const stdinPath = (key: string): string => `${EXEC_DIR}/${key}.stdin`

const prelude = (key: string): string =>
  `d=${EXEC_DIR}; k=$d/${key}; [ -d $d ] || mkdir -p -m 1777 $d 2>/dev/null`

/**
 * The argv that runs `argv` under the wrapper. The inner shell is the session leader; it
 * writes its pid, quits if a kill already came (`.kill` marker, for a timeout that fires
 * before the command starts), runs the command (stdin from the `.stdin` file when
 * `withStdin`), removes its files and exits with the command's status.
 */
export const wrapCommand = (key: string, argv: string[], withStdin: boolean): string[] => {
  const script = [
    prelude(key),
    '{ echo $$ > $k.pid; } 2>/dev/null',
    'if [ -e $k.kill ]; then rm -f $k.pid $k.stdin $k.kill; exit 137; fi',
    withStdin ? '"$@" < $k.stdin' : '"$@"',
    'rc=$?',
    'rm -f $k.pid $k.stdin',
    'exit $rc',
  ].join('\n')
  return ['setsid', '-w', '/bin/sh', '-c', script, 'ws-exec', ...argv]
}

/**
 * The argv that kills the command started with `key`, using shell builtins only (cheap in a
 * busy container): it freezes the command's process group, then kills every process that
 * is in the command's session or still holds its stdout/stderr (a child that started a
 * session of its own but kept the output open, which would otherwise keep the exec's
 * stream open), then the group itself. A process that left the session and closed the
 * output is out of reach.
 */
export const killCommand = (key: string): string[] => {
  const script = [
    prelude(key),
    ': > $k.kill',
    'p=$(cat $k.pid 2>/dev/null)',
    '[ -n "$p" ] || exit 0',
    'kill -STOP -$p 2>/dev/null',
    // Only pipes are compared: a /dev/null here would match half the container.
    'o=/proc/$p/fd/1; e=/proc/$p/fd/2; [ -p $o ] || o=/-; [ -p $e ] || e=/-',
    // Kill only after the scan: the leader's fds are the reference for the whole loop.
    'l=',
    'for f in /proc/[0-9]*; do',
    '  q=${f#/proc/}',
    '  [ "$q" = "$$" ] && continue',
    '  read -r s < $f/stat 2>/dev/null || continue',
    '  s=${s##*) }',
    '  set -- $s',
    '  if [ "$4" = "$p" ] || [ $f/fd/1 -ef $o ] || [ $f/fd/2 -ef $e ]; then',
    '    l="$l $q"',
    '  fi',
    'done',
    'kill -KILL -$p 2>/dev/null',
    '[ -z "$l" ] || kill -KILL $l 2>/dev/null',
    'rm -f $k.pid $k.stdin $k.kill',
    'exit 0',
  ].join('\n')
  return ['/bin/sh', '-c', script, 'ws-kill']
}
