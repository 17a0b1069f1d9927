#!/usr/bin/env bash
# Regenerate requirements.lock: every package of the project's dependency tree (pyproject.toml
# with the "dev" extra) pinned to one version, resolved by `uv pip compile`.
#
#   scripts/lock.sh                 # pins = the versions installed in the environment $PY (the
#                                   #   one the tests last passed in), resolved within pyproject
#   LOCK_FRESH=1 scripts/lock.sh    # newest versions inside pyproject's ranges instead
#
# Needs `uv` on PATH (pip install uv).  Run the tests after relocking; commit the lock with them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PY:-.venv/bin/python}"
pyver="$("$PY" -c 'import platform; print(platform.python_version())')"
args=(pyproject.toml --extra dev --python-version "$pyver" --no-header --annotation-style line -q)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -z "${LOCK_FRESH:-}" ]; then
    "$PY" -m pip freeze --exclude-editable > "$tmp/installed.txt"
    args+=(--constraint "$tmp/installed.txt")
fi
uv pip compile "${args[@]}" -o "$tmp/lock.txt"
{
    echo "# requirements.lock: the fully pinned environment of phases-and-patterns (Python $pyver)."
    echo "# Made by scripts/lock.sh: uv pip compile pyproject.toml --extra dev, resolved within"
    echo "# pyproject.toml's ranges and pinned to the versions the tests passed with."
    echo "# scripts/ensure_env.sh installs it (pip install -r requirements.lock), then the project"
    echo "# itself without dependencies (pip install --no-deps -e .[dev])."
    sed -E 's/-c [^ ]*installed\.txt, //; s/, -c [^ ]*installed\.txt//; s/# via -c [^ ]*installed\.txt$//; s/ +$//' "$tmp/lock.txt"
} > requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
echo "lock: wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"
