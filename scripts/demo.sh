#!/usr/bin/env bash
# make demo: the whole pipeline end to end on embedded defaults.
#
# Broker: KAFKA_BOOTSTRAP_SERVERS if set (used as it is, never started or
# stopped here); else the local broker of infra/kafka/kafka.sh. If that one was
# not running, the demo starts it and stops it again when it ends, also on
# Ctrl-C or failure; if it was running, it is left running.
#
# The run's topics are deleted when it ends. DEMO_KEEP_TOPICS=1 (or
# --keep-topics) keeps them, and a broker the demo started with them, for
# inspection: the demo then prints how to look at them and how to stop it.
# Other arguments pass through to `python -m tools.demo` (--help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kafka=infra/kafka/kafka.sh

keep=0
case "${DEMO_KEEP_TOPICS:-}" in 1 | yes | true | YES | TRUE | Yes | True) keep=1 ;; esac
for arg in "$@"; do
  if [ "$arg" = --keep-topics ]; then keep=1; fi
done

say() { printf 'demo: %s\n' "$*" >&2; }

address=${KAFKA_BOOTSTRAP_SERVERS:-}
origin=env # env, running (before the demo) or started (by the demo)

finish() {
  local rc=$?
  trap - EXIT INT TERM
  case "$origin" in
    env)
      say "broker $address (KAFKA_BOOTSTRAP_SERVERS) was not started by the demo: left as it is" ;;
    running)
      say "the local broker at $address was running before the demo: left running (\`make kafka-down\` stops it)" ;;
    started)
      if ! bash "$kafka" status 2>/dev/null; then
        say "the local broker the demo tried to start is not running"
      elif [ "$keep" = 1 ]; then
        say "the local broker the demo started is still running at $address, for the kept topics: stop it with \`make kafka-down\`"
      elif bash "$kafka" down 2>/dev/null; then
        say "stopped the local broker the demo started (it was not running before)"
      else
        say "could not stop the local broker the demo started; \`make kafka-down\` stops it"
      fi ;;
  esac
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$address" ]; then
  if bash "$kafka" status 2>/dev/null; then
    origin=running
  else
    origin=started # set before `up`: a Ctrl-C while it starts still stops it
  fi
  address=$(bash "$kafka" up | tail -n 1)
  if [ "$origin" = started ]; then
    say "started the local broker at $address for this run; it is stopped when the demo ends"
  fi
fi

KAFKA_BOOTSTRAP_SERVERS=$address .venv/bin/python -m tools.demo "$@"
