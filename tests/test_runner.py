"""run_all.sh's runner: quiet output (progress lines and the table; the kernel's output in a log
per notebook); it stops at the first failing notebook, naming it, the cell's error and the log."""

import json
from pathlib import Path

import pytest

from lib import config, runner

FAILING = '''# %%
import math

# %% tags=["parameters"]
profile = "default"
divisor = 0

# %%
print("about to fail")
ratio = 1 / divisor
'''

PASSING = '''# %% tags=["parameters"]
profile = "default"

# %%
print("never reached")
'''

NOISY = '''# %% tags=["parameters"]
profile = "default"

# %%
import os, sys
print("printed by the notebook")
os.write(2, b"I0000 00:00 cudart_stub.cc:31] written by the kernel process to its stderr\\n")
print("tf", os.environ.get("TF_CPP_MIN_LOG_LEVEL"), file=sys.stderr)
'''


@pytest.mark.notebook
def test_run_output_is_progress_lines_and_the_table(tmp_path: Path, monkeypatch, capfd,
                                                     runs_root):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "00_noisy.py").write_text(NOISY)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)

    assert runner.main(["--profile", "smoke"]) == 0
    out, err = capfd.readouterr()  # file descriptors: the kernel process's output too
    assert err == ""
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0].startswith("run_all: profile smoke, 1 notebook(s)")
    assert lines[1].startswith("00_noisy") and " ok " in lines[1]
    assert lines[1].endswith(str(runner.log_path("00_noisy", "smoke")))
    assert lines[2].split() == ["notebook", "seconds", "status"]
    assert lines[3].startswith("00_noisy") and lines[3].endswith("ok")
    assert lines[4].startswith("run_all: all notebooks ok")
    assert len(lines) == 5, out
    log = runner.log_path("00_noisy", "smoke").read_text(encoding="utf-8")
    assert "printed by the notebook" in log
    assert "cudart_stub.cc:31] written by the kernel process" in log
    assert "tf 2" in log  # TensorFlow's C++ logging: errors only


def test_progress_bar_only_on_a_terminal():
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert runner.progress_options("00_data", 10, io.StringIO()) is False
    options = runner.progress_options("00_data", 10, Terminal())
    assert options["desc"].startswith("00_data") and "cells]" in options["bar_format"]


def test_installed_kernel_is_quiet(tmp_path: Path, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    spec = json.loads((runner.install_kernel("quiet-test") / "kernel.json").read_text())
    assert spec["env"]["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert spec["env"]["GRPC_VERBOSITY"] == "ERROR"
    assert "--IPKernelApp.log_level=ERROR" in spec["argv"]


@pytest.mark.notebook
def test_runner_stops_at_first_failure_and_names_it(tmp_path: Path, monkeypatch, capfd,
                                                    runs_root):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "00_fails.py").write_text(FAILING)
    (notebooks / "01_after.py").write_text(PASSING)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)

    assert runner.main(["--profile", "smoke"]) == 1
    out, err = capfd.readouterr()
    log = runner.log_path("00_fails", "smoke")
    assert "notebook 00_fails failed" in err
    assert "ZeroDivisionError" in err and "division by zero" in err
    assert f"kernel log: {log}" in err
    assert "about to fail" not in out + err  # the notebook's output is in the log only
    assert "about to fail" in log.read_text(encoding="utf-8")
    assert "01_after" in out and "not run" in out
    # the executed notebook, with the traceback, is complete on disk (no temporary left)
    executed = config.run_dir("smoke") / "00_fails.ipynb"
    assert executed.exists()
    assert not list(config.run_dir("smoke").glob(".*running*"))


def test_declared_parameters_need_a_parameters_cell(tmp_path: Path):
    import jupytext

    path = tmp_path / "nb.py"
    path.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="nb.py: no 'parameters' cell"):
        runner._declared_parameters(jupytext.read(path), path)
