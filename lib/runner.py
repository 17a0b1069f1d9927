"""Run the study's notebooks headless: jupytext ``.py`` → ``.ipynb`` → papermill.

``./run_all.sh`` calls ``python -m lib.runner``; tests call :func:`execute_notebook`.

Each notebook ``notebooks/NN_name.py`` is converted with jupytext and executed with papermill
into ``runs/<profile>/NN_name.ipynb`` (written under a temporary name and renamed when the
notebook ends, so a reader never opens a half-written notebook).  The run stops at the first
failing notebook, naming it and the failing cell's error, and ends with a table of notebook,
seconds and status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import config

KERNEL_NAME = "phases-and-patterns"


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
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    spec["env"] = env
    from . import atomic

    atomic.write_json(spec_path, spec)
    return folder


class _KernelEnvironment:
    """Context manager: put :func:`cctbx_preload` on LD_PRELOAD for kernels started inside."""

    def __enter__(self) -> "_KernelEnvironment":
        self.old = os.environ.get("LD_PRELOAD")
        lib = cctbx_preload() if sys.platform.startswith("linux") else None
        if lib and lib not in (self.old or "").split():
            os.environ["LD_PRELOAD"] = f"{lib} {self.old}" if self.old else lib
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.old is None:
            os.environ.pop("LD_PRELOAD", None)
        else:
            os.environ["LD_PRELOAD"] = self.old


def execute_notebook(source: Path, profile: str, parameters: dict[str, Any] | None = None,
                     output: Path | None = None, log_output: bool = False) -> Path:
    """Convert ``source`` with jupytext and execute it with papermill under ``profile``.

    Only parameters that the notebook's ``parameters`` cell defines are passed to it.
    Returns the executed notebook's path.  Raises ``papermill.PapermillExecutionError`` when
    a cell fails (the executed notebook, with the traceback, is still written).
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
    try:
        with _KernelEnvironment():
            pm.execute_notebook(str(src_ipynb), str(tmp), parameters=params,
                                kernel_name=kernel_name(), cwd=str(config.NOTEBOOKS_DIR),
                                log_output=log_output, progress_bar=False)
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
    for src in sources:
        start = time.perf_counter()
        print(f"run_all: {src.stem} ...", flush=True)
        try:
            out = execute_notebook(src, args.profile, overrides)
            status = "ok"
        except Exception as exc:  # report and stop at the first failure
            status = "FAILED"
            failed = (src.stem, exc)
        seconds = time.perf_counter() - start
        rows.append((src.stem, seconds, status))
        print(f"run_all: {src.stem} {status} in {seconds:.1f} s", flush=True)
        if failed:
            break
    print()
    width = max(len(r[0]) for r in rows) if rows else 8
    print(f"{'notebook':<{width}}  {'seconds':>8}  status")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {status}")
    for src in sources[len(rows):]:
        print(f"{src.stem:<{width}}  {'-':>8}  not run")
    if failed:
        name, exc = failed
        print(f"\nrun_all: notebook {name} failed", file=sys.stderr)
        ename = getattr(exc, "ename", type(exc).__name__)
        evalue = getattr(exc, "evalue", str(exc))
        cell = getattr(exc, "exec_count", None)
        where = f" in cell [{cell}]" if cell is not None else ""
        print(f"run_all: {ename}{where}: {evalue}", file=sys.stderr)
        print(f"run_all: executed notebook with the traceback: "
              f"{config.run_dir(args.profile) / (name + '.ipynb')}", file=sys.stderr)
        return 1
    print(f"\nrun_all: all notebooks ok; figures in {config.figures_dir(args.profile)}, "
          f"metrics in {config.metrics_dir(args.profile)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
