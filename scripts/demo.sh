#!/usr/bin/env bash
# make demo: the whole pipeline end to end on embedded defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  bash infra/kafka/kafka.sh up >/dev/null
fi
exec .venv/bin/python -m skillstream.demo "$@"
