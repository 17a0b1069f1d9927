#!/usr/bin/env bash
# Set up the environment (as run_all.sh does) and run the tests.  Extra arguments go to pytest:
#   ./run_tests.sh -k reflections        ./run_tests.sh -m "not notebook"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/ensure_env.sh
exec "$PY" -m pytest "$@"
