"""run_all.sh's runner: it stops at the first failing notebook, naming it and the cell's error."""

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


@pytest.mark.notebook
def test_runner_stops_at_first_failure_and_names_it(tmp_path: Path, monkeypatch, capsys,
                                                    runs_root):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "00_fails.py").write_text(FAILING)
    (notebooks / "01_after.py").write_text(PASSING)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)

    assert runner.main(["--profile", "smoke"]) == 1
    out, err = capsys.readouterr()
    assert "notebook 00_fails failed" in err
    assert "ZeroDivisionError" in err
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
