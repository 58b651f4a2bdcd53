#!/usr/bin/env bash
# Print the path of a working Python X.Y interpreter, or exit 1 saying where it looked.
# Looks at pythonX.Y on the PATH (a pyenv shim counts only if it runs), then pyenv's
# versions, then /usr/bin and /usr/local/bin.
set -uo pipefail
version=${1:?usage: find-python.sh X.Y}
works() { "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null; }
candidates=("python$version")
root=${PYENV_ROOT:-$HOME/.pyenv}
for dir in "$root"/versions/"$version".*; do
  [ -x "$dir/bin/python$version" ] && candidates+=("$dir/bin/python$version")
done
candidates+=("/usr/local/bin/python$version" "/usr/bin/python$version")
for candidate in "${candidates[@]}"; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if works "$path"; then
    echo "$path"
    exit 0
  fi
done
echo "no working python$version: tried ${candidates[*]}" >&2
exit 1
