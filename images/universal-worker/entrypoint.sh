#!/usr/bin/env bash
# workers-spawner container entrypoint.
#
#   1. INSTALL_COMMANDS (shell string, run with bash -c). On failure: message on stderr,
#      exit with its code.
#   2. With arguments: exec them (e.g. `docker run IMAGE bash -lc 'node --version'`).
#   3. Without arguments (daemon mode): when the worker API socket directory is mounted (a
#      worker with no network), relay 127.0.0.1:${WORKERS_SPAWNER_RELAY_PORT:-3128} to the
#      socket with socat: the model gateway and the egress proxy are served there, and the
#      agent CLIs speak TCP only. Then start AGENT_COMMAND in the background if set
#      (output goes to the container log), write the ready marker
#      /tmp/.workers-spawner-ready, print "workers-spawner: ready" and stay up so that
#      commands arrive through `docker exec`. SIGTERM/SIGINT stop the agent and exit 0.
#      Before the ready marker, when the runtime's directory /run/workers-spawner/daemon is
#      mounted and SPAWNERD_SECRET is set, start the in-worker daemon spawnerd (restarted if
#      it dies; its stderr, lines prefixed "spawnerd: " by itself, on the container log) and
#      drop the secret from this shell's environment, so the agent does not inherit it.
set -uo pipefail

READY_MARKER=/tmp/.workers-spawner-ready
rm -f "$READY_MARKER" 2>/dev/null || true

say() { printf 'workers-spawner: %s\n' "$*" >&2; }

if [[ -n "${INSTALL_COMMANDS:-}" ]]; then
  say "running INSTALL_COMMANDS"
  bash -c "$INSTALL_COMMANDS"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    say "INSTALL_COMMANDS failed with exit code $rc"
    exit "$rc"
  fi
fi

if [[ $# -gt 0 ]]; then
  : >"$READY_MARKER" 2>/dev/null || true
  exec "$@"
fi

agent_pid=""
sleep_pid=""
relay_pid=""

API_DIR=/run/workers-spawner/api
if [[ -d "$API_DIR" ]]; then
  if command -v socat >/dev/null 2>&1; then
    port="${WORKERS_SPAWNER_RELAY_PORT:-3128}"
    # Restarted if it dies (the agent may kill it: it only cuts itself off).
    (
      trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
      while :; do
        socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay" "UNIX-CONNECT:$API_DIR/api.sock" &
        child=$!
        wait "$child"
        sleep 1
      done
    ) &
    relay_pid=$!
  else
    say "socat is missing: no model gateway or egress proxy on 127.0.0.1"
  fi
fi

daemon_pid=""
DAEMON_DIR=/run/workers-spawner/daemon
if [[ -d "$DAEMON_DIR" && -n "${SPAWNERD_SECRET:-}" ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    say "not starting spawnerd as root"
  elif [[ -x /usr/local/bin/spawnerd ]]; then
    # Restarted if it dies (the agent may kill it: the runtime then falls back to docker exec).
    (
      trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
      while :; do
        # By its absolute path: the worker's own directories come first on PATH.
        /usr/local/bin/spawnerd &
        child=$!
        wait "$child"
        sleep 1
      done
    ) &
    daemon_pid=$!
  else
    say "spawnerd is missing: commands go through docker exec"
  fi
fi
unset SPAWNERD_SECRET

shutdown() {
  trap - TERM INT
  if [[ -n "$agent_pid" ]]; then
    # The agent runs in its own session/process group: signal the whole group.
    kill -TERM -- "-$agent_pid" 2>/dev/null || kill -TERM "$agent_pid" 2>/dev/null || true
  fi
  [[ -n "$relay_pid" ]] && kill "$relay_pid" 2>/dev/null
  [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null
  [[ -n "$sleep_pid" ]] && kill "$sleep_pid" 2>/dev/null
  rm -f "$READY_MARKER" 2>/dev/null || true
  exit 0
}
trap shutdown TERM INT

if [[ -n "${AGENT_COMMAND:-}" ]]; then
  say "starting AGENT_COMMAND"
  setsid bash -c 'bash -c "$AGENT_COMMAND"; rc=$?; printf "workers-spawner: AGENT_COMMAND exited with code %s\n" "$rc" >&2' &
  agent_pid=$!
fi

: >"$READY_MARKER"
echo "workers-spawner: ready"

sleep infinity &
sleep_pid=$!
# `wait` returns early when a trapped signal arrives; loop in case the sleep dies.
while true; do
  wait "$sleep_pid"
  sleep infinity &
  sleep_pid=$!
done
