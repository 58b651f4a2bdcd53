#!/usr/bin/env bash
# make bench: measure skillstream against its performance targets (see tools/bench.py).
# Extra arguments pass through: BENCH_ARGS="--repeat 5 --recovery-learners 200000" make bench
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC2086
exec .venv/bin/python -m tools.bench ${BENCH_ARGS:-} "$@"
