/**
 * The shell commands that read and write a file inside a container as the worker user (see
 * docker-files.ts). They resolve the path there, with `realpath` of GNU coreutils, so a link
 * the worker planted is seen for what it points to; the roots are resolved the same way. A
 * check fails with one of `FILE_EXIT`, which the caller turns into the matching error.
 * Programs are named by absolute path: they run as helpers (see exec-helper-env.ts).
 */

/** Exit codes of the file scripts; other non-zero codes are failures of the tools they run. */
export const FILE_EXIT = {
  notAllowed: 80,
  notFound: 81,
  directory: 82,
  notRegular: 83,
  tooLarge: 84,
  denied: 85,
} as const

/**
 * Sets `t` to the resolved `$1`, and with `$2 = 1` exits `notAllowed` unless `t` lies inside
 * one of the resolved roots that follow the script's own arguments (after `shift $3`).
 * The `echo .` keeps a name's trailing newlines through the command substitution.
 */
const RESOLVE = [
  't=$(/usr/bin/realpath -m -- "$1" && echo .) || exit 1',
  't=${t%??}',
  'check=$2',
  'shift "$3"',
  'if [ "$check" = 1 ]; then',
  '  ok=',
  '  for r do',
  '    r=$(/usr/bin/realpath -m -- "$r" && echo .) || continue',
  '    r=${r%??}',
  '    case $t in "${r%/}"/?*) ok=1; break ;; esac',
  '  done',
  `  [ -n "$ok" ] || exit ${FILE_EXIT.notAllowed}`,
  'fi',
]

/**
 * Writes stdin to `$t` through a temporary file beside it, renamed into place, so a reader
 * never sees half a file and the mode is set before it appears. Missing directories are made
 * by `mkdir -p`. `mv -T` never moves into a directory that appeared meanwhile.
 */
const PUT = [
  ...RESOLVE,
  `[ ! -d "$t" ] || exit ${FILE_EXIT.directory}`,
  'd=${t%/*}',
  '/usr/bin/mkdir -p -- "${d:-/}" || exit 1',
  'f=$(/usr/bin/mktemp -- "${d}/.ws-put.XXXXXXXX") || exit 1',
  `trap '/usr/bin/rm -f -- "$f"' EXIT`,
  '/usr/bin/cat > "$f" && /usr/bin/chmod -- "$mode" "$f" && /usr/bin/mv -fT -- "$f" "$t" || exit 1',
  'trap - EXIT',
].join('\n')

/** Prints `$t`, or only its first `max + 1` bytes when a cap is set (the caller compares). */
const GET = [
  ...RESOLVE,
  `[ -e "$t" ] || exit ${FILE_EXIT.notFound}`,
  `[ ! -d "$t" ] || exit ${FILE_EXIT.directory}`,
  `[ -f "$t" ] || exit ${FILE_EXIT.notRegular}`,
  `[ -r "$t" ] || exit ${FILE_EXIT.denied}`,
  '[ -n "$max" ] || exec /usr/bin/cat -- "$t"',
  's=$(/usr/bin/stat -c %s -- "$t") || exit 1',
  `[ "$s" -le "$max" ] || exit ${FILE_EXIT.tooLarge}`,
  'exec /usr/bin/head -c "$((max + 1))" -- "$t"',
].join('\n')

/** argv after the script: path, check flag, how many to shift to reach the roots, roots. */
const args = (path: string, roots: readonly string[] | undefined, own: string[]): string[] => [
  path,
  roots ? '1' : '0',
  String(3 + own.length),
  ...own,
  ...(roots ?? []),
]

/** The argv that writes its stdin to `path` with `mode`. */
export const putFileCommand = (
  path: string,
  mode: number,
  roots: readonly string[] | undefined,
): string[] => {
  const script = `mode=$4\n${PUT}`
  return ['/bin/sh', '-c', script, 'ws-put', ...args(path, roots, [mode.toString(8)])]
}

/** The argv that prints the file at `path`; `maxBytes` undefined = no cap. */
export const getFileCommand = (
  path: string,
  maxBytes: number | undefined,
  roots: readonly string[] | undefined,
): string[] => {
  const script = `max=$4\n${GET}`
  return ['/bin/sh', '-c', script, 'ws-get', ...args(path, roots, [maxBytes?.toString() ?? ''])]
}
