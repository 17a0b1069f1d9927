"""Run the study's notebooks headless: jupytext ``.py`` → ``.ipynb`` → papermill.

``./run_all.sh`` calls ``python -m lib.runner``; tests call :func:`execute_notebook`.

Each notebook ``notebooks/NN_name.py`` is converted with jupytext and executed with papermill
into ``runs/<profile>/NN_name.ipynb`` (written under a temporary name and renamed when the
notebook ends, so a reader never opens a half-written notebook).  The kernel's own output (its
stdout and stderr, TensorFlow's C++ logging included, and the notebook's printed streams) goes to
``runs/<profile>/logs/NN_name.log``; the terminal shows one progress line per notebook (updated
in place on a terminal) and the end table.  The run stops at the first failing notebook, naming
it, the failing cell's error and the log, and ends with a table of notebook, seconds and status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import IO, Any, Sequence, TextIO

from . import config

KERNEL_NAME = "phases-and-patterns"

#: Environment of every kernel (kernelspec ``env`` and papermill runs): TensorFlow's C++ logging
#: shows errors only (level 2 hides INFO and WARNING), gRPC and glog likewise.  The few lines
#: absl writes before TensorFlow initialises its logging ("Could not find cuda drivers") cannot
#: be silenced by any variable; under papermill they go to the notebook's log file.
QUIET_ENV: dict[str, str] = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}

#: Kernel command-line options: ipykernel's start-up warnings ("Kernel is running over TCP
#: without encryption", harmless on localhost) are not printed; its errors still are.
KERNEL_ARGS: tuple[str, ...] = ("--IPKernelApp.log_level=ERROR",)


def notebook_sources(only: Sequence[str] | None = None) -> list[Path]:
    """The notebooks' ``.py`` sources in order, optionally only those whose number is in ``only``."""
    sources = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        wanted = {n.zfill(2) for n in only}
        unknown = wanted - {p.name[:2] for p in sources}
        if unknown:
            raise SystemExit(f"run_all: no notebook numbered {', '.join(sorted(unknown))} in "
                             f"{config.NOTEBOOKS_DIR} (have {', '.join(p.name[:2] for p in sources)})")
        sources = [p for p in sources if p.name[:2] in wanted]
    return sources


def parse_value(text: str) -> Any:
    """Turn a command-line ``-p`` value into int, float, bool or str (as papermill's CLI does)."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def kernel_name() -> str:
    """The project's kernelspec when installed (``run_all.sh`` installs it), else ``python3``."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        if KERNEL_NAME in KernelSpecManager().find_kernel_specs():
            return KERNEL_NAME
    except Exception:  # pragma: no cover - jupyter_client always present with papermill
        pass
    return "python3"


def cctbx_preload() -> str | None:
    """Path of the libstdc++ bundled with the cctbx-base wheel, when there is one.

    A Jupyter kernel loads the system libstdc++ (through pyzmq) before any notebook code; the
    cctbx wheel then loads its own, newer copy with RTLD_GLOBAL and crashes the kernel on the
    first cctbx import ("Kernel died").  Preloading the bundled copy (LD_PRELOAD) makes it the
    first one, as when cctbx is imported first in a plain Python process.
    """
    import importlib.util

    spec = importlib.util.find_spec("boost_adaptbx")
    if spec is None or not spec.submodule_search_locations:
        return None
    site = Path(list(spec.submodule_search_locations)[0]).parent
    found = sorted((site / "cctbx_base.libs").glob("libstdc++*.so*"))
    return str(found[0]) if found else None


def install_kernel(name: str = KERNEL_NAME) -> Path:
    """Install (or refresh) the Jupyter kernelspec ``name`` for this environment's Python.

    The spec goes into the environment (``--sys-prefix``), runs ``sys.executable`` and carries
    :func:`cctbx_preload` in its ``env``, so cctbx imports safely in JupyterLab as under
    papermill.  Returns the kernelspec folder.
    """
    import json

    from ipykernel.kernelspec import install

    folder = Path(install(kernel_name=name, display_name="Python (phases-and-patterns)",
                          prefix=sys.prefix))
    spec_path = folder / "kernel.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    lib = cctbx_preload() if sys.platform.startswith("linux") else None
    env = dict(spec.get("env", {}))
    if lib:
        env["LD_PRELOAD"] = lib
    for key, value in QUIET_ENV.items():
        env.setdefault(key, value)
    spec["env"] = env
    argv = list(spec["argv"])
    spec["argv"] = argv + [a for a in KERNEL_ARGS if a not in argv]
    from . import atomic

    atomic.write_json(spec_path, spec)
    return folder


class _KernelEnvironment:
    """Context manager: :func:`cctbx_preload` on LD_PRELOAD and :data:`QUIET_ENV` (unless set)
    for kernels started inside; the previous environment is restored on exit."""

    def __enter__(self) -> "_KernelEnvironment":
        keys = ["LD_PRELOAD", *QUIET_ENV]
        self.old = {key: os.environ.get(key) for key in keys}
        lib = cctbx_preload() if sys.platform.startswith("linux") else None
        old_preload = self.old["LD_PRELOAD"]
        if lib and lib not in (old_preload or "").split():
            os.environ["LD_PRELOAD"] = f"{lib} {old_preload}" if old_preload else lib
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
        return self

    def __exit__(self, *exc: Any) -> None:
        for key, value in self.old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _logged_kernel_manager(log: IO[str]) -> type:
    """A jupyter_client kernel manager whose kernel process writes stdout and stderr to ``log``.

    The kernel's own output (TensorFlow's and CUDA's C++ logging, ipykernel's messages) never
    reaches the notebook; without this it lands on the terminal running ``run_all.sh``.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            kernel_cmd = list(kernel_cmd) + [a for a in KERNEL_ARGS if a not in kernel_cmd]
            await super()._async_launch_kernel(kernel_cmd, **kw)

        _launch_kernel = _async_launch_kernel

    return LoggedKernelManager


def log_path(name: str, profile: str) -> Path:
    """The log of notebook ``name`` under ``profile``: ``runs/<profile>/logs/NN_name.log``."""
    return config.run_dir(profile) / "logs" / f"{name}.log"


def execute_notebook(source: Path, profile: str, parameters: dict[str, Any] | None = None,
                     output: Path | None = None, log_output: bool = False,
                     progress: dict[str, Any] | bool = False) -> Path:
    """Convert ``source`` with jupytext and execute it with papermill under ``profile``.

    Only parameters that the notebook's ``parameters`` cell defines are passed to it.  The
    kernel's stdout and stderr and the notebook's printed output go to :func:`log_path`
    (rewritten at each run).  ``progress`` is papermill's cell progress bar (``False``, or tqdm
    options).  Returns the executed notebook's path.  Raises
    ``papermill.PapermillExecutionError`` when a cell fails (the executed notebook, with the
    traceback, is still written).
    """
    import jupytext
    import papermill as pm

    config.check_profile(profile)
    name = source.stem
    run_dir = config.run_dir(profile)
    run_dir.mkdir(parents=True, exist_ok=True)
    output = output or run_dir / f"{name}.ipynb"
    src_dir = run_dir / ".src"
    src_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": kernel_name(), "display_name": "Python 3",
                                 "language": "python"}
    src_ipynb = src_dir / f"{name}.ipynb"
    jupytext.write(nb, src_ipynb, fmt="ipynb")

    declared = _declared_parameters(nb, source)
    params = {"profile": profile}
    for key, value in (parameters or {}).items():
        if key in declared:
            params[key] = value
    tmp = output.with_name(f".{output.stem}.running.ipynb")
    log_file = log_path(name, profile)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _KernelEnvironment(), open(log_file, "w", encoding="utf-8") as log:
            log.write(f"# {name}: profile {profile}, parameters {params}\n")
            log.flush()
            pm.execute_notebook(str(src_ipynb), str(tmp), parameters=params,
                                kernel_name=kernel_name(), cwd=str(config.NOTEBOOKS_DIR),
                                log_output=log_output, progress_bar=progress,
                                stdout_file=log, stderr_file=log,
                                kernel_manager_class=_logged_kernel_manager(log))
    finally:
        if tmp.exists():
            os.replace(tmp, output)
    return output


def _declared_parameters(nb: Any, source: Path | str = "notebook") -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell."""
    import ast

    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            names = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.add(target.id)
            return names
    raise ValueError(f"{source}: no 'parameters' cell (a cell tagged \"parameters\")")


def progress_options(name: str, width: int, stream: TextIO) -> dict[str, Any] | bool:
    """Papermill's cell progress bar for notebook ``name``, in place on a terminal.

    On a terminal: one line ``NN_name  [12/40 cells]`` rewritten as cells finish and cleared
    at the end (the runner then prints the notebook's final line).  Elsewhere (a pipe, a CI
    log) no bar: only the final line, so logs hold no carriage-return noise.
    """
    if not getattr(stream, "isatty", lambda: False)():
        return False
    return {"desc": f"{name:<{width}}", "file": stream, "leave": False, "unit": "cell",
            "bar_format": "{desc}  [{n_fmt}/{total_fmt} cells] {elapsed}"}


def failure_summary(exc: BaseException) -> str:
    """The failing cell's error in one or two lines: its name, cell number and message."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    return f"run_all: {ename}{where}: {evalue}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run_all.sh",
        description="Run the study's notebooks in order with papermill.")
    parser.add_argument("--profile", default="default", choices=config.PROFILE_NAMES,
                        help="smoke: minutes, for tests; default: the laptop study; "
                             "full: the reports' scale, for GPU nodes")
    parser.add_argument("--only", action="append", default=[],
                        help="run only notebook NN (repeat, or give a comma-separated list)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="override one parameter in every notebook that has it")
    args = parser.parse_args(argv)

    only = [n for item in args.only for n in item.split(",") if n]
    sources = notebook_sources(only)
    overrides = {name: parse_value(value) for name, value in args.parameter}
    known: set[str] = set()
    for src in sources:
        try:
            known |= set(config.profile_parameters(src.stem, args.profile))
        except ValueError:
            pass
    unknown = sorted(set(overrides) - known - {"profile"})
    if unknown:
        parser.error(f"unknown parameter(s) {', '.join(unknown)} for the selected notebooks; "
                     f"known: {', '.join(sorted(known))}")
    if "profile" in overrides:
        parser.error("use --profile, not -p profile")

    print(f"run_all: profile {args.profile}, {len(sources)} notebook(s), "
          f"outputs in {config.run_dir(args.profile)}", flush=True)
    rows: list[tuple[str, float, str]] = []
    failed = None
    width = max(len(src.stem) for src in sources) if sources else 8
    for src in sources:
        start = time.perf_counter()
        try:
            execute_notebook(src, args.profile, overrides,
                             progress=progress_options(src.stem, width, sys.stdout))
            status = "ok"
        except Exception as exc:  # report and stop at the first failure
            status = "FAILED"
            failed = (src.stem, exc)
        seconds = time.perf_counter() - start
        rows.append((src.stem, seconds, status))
        print(f"{src.stem:<{width}}  {status:<6} {seconds:7.1f} s   "
              f"log {log_path(src.stem, args.profile)}", flush=True)
        if failed:
            break
    print()
    print(f"{'notebook':<{width}}  {'seconds':>8}  status")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {status}")
    for src in sources[len(rows):]:
        print(f"{src.stem:<{width}}  {'-':>8}  not run")
    if failed:
        name, exc = failed
        print(f"\nrun_all: notebook {name} failed", file=sys.stderr)
        print(failure_summary(exc), file=sys.stderr)
        print(f"run_all: executed notebook with the traceback: "
              f"{config.run_dir(args.profile) / (name + '.ipynb')}", file=sys.stderr)
        print(f"run_all: kernel log: {log_path(name, args.profile)}", file=sys.stderr)
        return 1
    print(f"\nrun_all: all notebooks ok; figures in {config.figures_dir(args.profile)}, "
          f"metrics in {config.metrics_dir(args.profile)}, logs in "
          f"{config.run_dir(args.profile) / 'logs'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
