// What an exec runs inside the container: a POSIX sh script, passed as argv, that loads the
// secrets in /run/secrets as environment variables exactly as the runtime images' entrypoint
// (images/entrypoint/sandboxshift-entrypoint) does for the main process, then execs the command.
// Passing the script as argv works for any image with /bin/sh, entrypoint or not (the busybox
// test image has none). The text below is the entrypoint's own, from `set +x` to the `fi` that
// ends its secrets loop; test/unit/engine/exec-loader.test.ts fails if the two drift apart.
// The script holds no secret: values are read inside the container and never reach argv, Env
// or the engine's records of the exec.

/** The entrypoint's secret-loading part, verbatim. */
export const SECRET_LOADER = `set +x
set -eu

secrets_dir=/run/secrets

warn() { printf 'sandboxshift-entrypoint: %s\\n' "$*" >&2; }

if [ -d "$secrets_dir" ]; then
  newline='
'
  # Dot files are left out (they are bookkeeping, e.g. Kubernetes' ..data links).
  for file in "$secrets_dir"/*; do
    [ -f "$file" ] || continue
    base=\${file##*/}
    name=$(printf '%s' "$base" | tr 'abcdefghijklmnopqrstuvwxyz' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' | tr -c 'A-Z0-9_' '_')
    case $name in
      [0-9]*)
        warn "not exporting $file: $name does not make a variable name (it starts with a digit)"
        continue ;;
    esac
    if ! [ -r "$file" ]; then
      warn "not exporting $file: not readable by uid $(id -u)"
      continue
    fi
    # The trailing 'x' keeps command substitution from eating every trailing newline;
    # exactly one is dropped after.
    value=$(cat -- "$file" && printf x) || { warn "not exporting $file: cannot read it"; continue; }
    value=\${value%x}
    value=\${value%"$newline"}
    export "$name=$value"
  done
  unset file base name value newline
fi
`;

/** $0 of the loader: the shell names it in its own messages ("sandboxshift-exec: exec: ...: not found"). */
export const EXEC_ARGV0 = 'sandboxshift-exec';

/**
 * The argv of an exec: the loader, then `cmd` exec'd with the secrets in its environment. With a
 * terminal size, the PTY is given it first: the engine (API 1.41) makes an exec's PTY 0x0 and
 * only a resize call after the start sizes it, which races the command's first look (`stty
 * size` printed nothing). Images without `stty` still get the resize call.
 */
export function execArgv(cmd: readonly string[], size?: { rows: number; columns: number }): string[] {
  const sizing = size ? `stty rows ${Math.floor(size.rows)} cols ${Math.floor(size.columns)} 2>/dev/null || :\n` : '';
  return ['/bin/sh', '-c', `${sizing}${SECRET_LOADER}${RUN_COMMAND}`, EXEC_ARGV0, ...cmd];
}

/**
 * `exec "$@"`, for a command that starts with `-` too: bash's and busybox's `exec` read it as
 * their own option (`exec -i` is "illegal option -i"), and take `--` before it; dash's `exec`
 * reads no options at all, and would run a command named `--`. So `--` goes in only where the
 * shell takes it (tried in a subshell, only for such a command); either way a command `-i` that
 * does not exist is "not found", 127, as any other.
 */
export const RUN_COMMAND = `case \${1-} in -*) if (exec -- true) 2>/dev/null; then exec -- "$@"; fi ;; esac
exec "$@"
`;

/**
 * The user's login shell, read inside the container from /etc/passwd for the uid the exec runs
 * as; /bin/sh when there is no entry, or its shell is missing, not executable, or one that
 * refuses logins (an image's own entry for the id, such as Debian's nobody, names nologin).
 */
export const USER_SHELL = [
  '/bin/sh',
  '-c',
  `uid=$(id -u); shell=/bin/sh
if [ -r /etc/passwd ]; then
  while IFS=: read -r _n _p u _g _c _h s; do
    if [ "$u" = "$uid" ]; then
      case $s in */nologin|*/false|*/true|*/sync) ;; *) [ -n "$s" ] && [ -x "$s" ] && shell=$s ;; esac
      break
    fi
  done < /etc/passwd
fi
unset uid _n _p u _g _c _h s
exec "$shell"`,
];
