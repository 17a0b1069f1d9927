#!/usr/bin/env bash
# Run the whole study: every notebook in order, headless, with papermill.
#
#   ./run_all.sh                                # default profile (the laptop study)
#   ./run_all.sh --profile smoke                # all notebooks in a few minutes
#   ./run_all.sh --profile full                 # the reports' scale, for GPU nodes
#   ./run_all.sh --only 02 -p epochs 5          # one notebook, one parameter overridden
#
# Executed notebooks: runs/<profile>/NN_name.ipynb; metrics: runs/<profile>/metrics/;
# figures: figures/ (default, full) or runs/<profile>/figures/ (smoke).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/ensure_env.sh
exec "$PY" -m lib.runner "$@"
