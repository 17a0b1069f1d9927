# Sourced by run_all.sh and run_tests.sh: make sure a Python environment with the project exists.
#
# - If a virtual or conda environment is active and already has the project installed, use it.
# - Otherwise create .venv (needs Python >= 3.11) and `pip install -e ".[dev]"` into it; the
#   install is redone only when pyproject.toml changes (a stamp in .venv records its hash).
# - Install the Jupyter kernelspec "phases-and-patterns" into the environment, so papermill and
#   JupyterLab run the notebooks with this environment's Python whatever other kernels the
#   user has (lib.runner.install_kernel).
# Exports PY (the environment's python) and the variables the study needs headless.

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_active_ok() {
    [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] || return 1
    python -c "import lib.config, sys; from pathlib import Path; \
sys.exit(0 if lib.config.ROOT == Path('$_root').resolve() else 1)" >/dev/null 2>&1
}

if _active_ok; then
    PY="$(command -v python)"
    echo "env: using the active environment ($PY)"
else
    _base="${PYTHON:-}"
    if [ -z "$_base" ]; then
        for cand in python3.13 python3.12 python3.11 python3 python; do
            if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
                _base="$(command -v "$cand")"; break
            fi
        done
    fi
    if [ -z "$_base" ]; then
        echo "env: error: Python >= 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
        exit 2
    fi
    if [ ! -x "$_root/.venv/bin/python" ]; then
        echo "env: creating $_root/.venv with $_base"
        "$_base" -m venv "$_root/.venv" || { echo "env: error: could not create .venv" >&2; exit 2; }
    fi
    PY="$_root/.venv/bin/python"
    _stamp="$("$PY" -c "import hashlib,sys; print(hashlib.sha256(open('$_root/pyproject.toml','rb').read()).hexdigest())")"
    if [ "$(cat "$_root/.venv/.phases_stamp" 2>/dev/null)" != "$_stamp" ]; then
        echo "env: installing the project and its dependencies into .venv (first time: several minutes)"
        "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
        if ! "$PY" -m pip install --quiet --disable-pip-version-check -e "$_root[dev]"; then
            echo "env: error: pip install failed (see above)" >&2
            exit 2
        fi
        echo "$_stamp" > "$_root/.venv/.phases_stamp"
    fi
fi

# The kernel papermill and JupyterLab use: this environment's Python, with cctbx's bundled
# libstdc++ preloaded (without it the first cctbx import kills a Jupyter kernel).
"$PY" -c "from lib.runner import install_kernel; install_kernel()" >/dev/null || {
    echo "env: error: could not install the Jupyter kernel 'phases-and-patterns'" >&2; exit 2; }

export PY
export PYTHONHASHSEED="${PYTHONHASHSEED:-0}"
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
export MPLCONFIGDIR="${MPLCONFIGDIR:-$_root/.venv/.mplconfig}"
unset _root _base _stamp
