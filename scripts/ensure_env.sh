# Sourced by run_all.sh and run_tests.sh: make sure a Python environment with the project exists.
#
# - If a virtual or conda environment is active and already has the project installed, use it.
# - Otherwise create .venv (needs Python >= 3.11) and install the pinned environment into it:
#   `pip install -r requirements.lock` (every package at one version, made by scripts/lock.sh),
#   then the project itself, `pip install --no-deps -e ".[dev]"`.  The install is redone only
#   when pyproject.toml or requirements.lock changes (a stamp in .venv records both hashes).
#   PHASES_NO_LOCK=1 installs from pyproject.toml's ranges instead (newest versions allowed).
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
    _stamp="$("$PY" -c "import hashlib; print(' '.join(hashlib.sha256(open('$_root/' + f, 'rb').read()).hexdigest() for f in ('pyproject.toml', 'requirements.lock')), '${PHASES_NO_LOCK:+ranges}')")"
    if [ "$(cat "$_root/.venv/.phases_stamp" 2>/dev/null)" != "$_stamp" ]; then
        echo "env: installing the project and its dependencies into .venv (first time: several minutes; log: .venv/install.log)"
        _log="$_root/.venv/install.log"
        : > "$_log"
        "$PY" -m pip install --quiet --upgrade pip >>"$_log" 2>&1 || true
        if [ -n "${PHASES_NO_LOCK:-}" ]; then
            _install=(-e "$_root[dev]")
        else
            "$PY" -m pip install --quiet --disable-pip-version-check -r "$_root/requirements.lock" >>"$_log" 2>&1 || {
                tail -n 30 "$_log" >&2
                echo "env: error: pip install -r requirements.lock failed (above; all of it in $_log; PHASES_NO_LOCK=1 installs from pyproject.toml's ranges)" >&2
                exit 2; }
            _install=(--no-deps -e "$_root[dev]")
        fi
        if ! "$PY" -m pip install --quiet --disable-pip-version-check "${_install[@]}" >>"$_log" 2>&1; then
            tail -n 30 "$_log" >&2
            echo "env: error: pip install failed (above; all of it in $_log)" >&2
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
# TensorFlow's C++ logging, gRPC and glog: errors only (lib.runner.QUIET_ENV, also in the kernelspec).
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export GRPC_VERBOSITY="${GRPC_VERBOSITY:-ERROR}"
export GLOG_minloglevel="${GLOG_minloglevel:-2}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
export MPLCONFIGDIR="${MPLCONFIGDIR:-$_root/.venv/.mplconfig}"
unset _root _base _stamp _install _log
