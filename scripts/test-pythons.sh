#!/usr/bin/env bash
# The unit suite on each Python version given (default: 3.12 3.13), each in its own
# virtualenv (.venv-X.Y) installed from requirements/lock.txt exactly like .venv.
# A version this machine lacks is reported as SKIPPED, loudly, and listed at the end;
# a failing suite fails the script.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.12 3.13)
passed=() skipped=() failed=()
for version in "${versions[@]}"; do
  printf '\n== unit suite on Python %s\n' "$version"
  if ! python=$(bash scripts/find-python.sh "$version"); then
    echo "SKIPPED: Python $version is not installed on this machine; its unit suite did NOT run"
    skipped+=("$version")
    continue
  fi
  "$python" --version
  if make --no-print-directory test-unit PYTHON="$python" VENV=".venv-$version" \
    PYTEST_ARGS="${PYTEST_ARGS:-} -p no:cacheprovider"; then
    passed+=("$version")
  else
    failed+=("$version")
  fi
done
printf '\n== Python versions: passed: %s; failed: %s; skipped (not installed): %s\n' \
  "${passed[*]:-none}" "${failed[*]:-none}" "${skipped[*]:-none}"
[ ${#failed[@]} -eq 0 ]
