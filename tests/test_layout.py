"""The project's shape: notebooks, parameters cells, the pinned environment."""

import ast
import re
import tomllib

import jupytext
import pytest
import yaml

from lib import config

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))


def test_one_notebook_per_section():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell_matching_the_profile(path):
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: {len(cells)} parameters cells"
    names, values = set(), {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), f"{path.name}: only assignments in parameters"
        for target in node.targets:
            names.add(target.id)
            values[target.id] = ast.literal_eval(node.value)
    assert values.pop("profile") == "default"
    assert set(values) == set(config.profile_parameters(path.stem, "default")), path.name
    assert all(v is None for v in values.values()), f"{path.name}: parameters must be None"
    assert nb.metadata["kernelspec"]["name"] == "phases-and-patterns"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_says_what_the_report_claimed(path):
    text = path.read_text(encoding="utf-8")
    assert re.search(r"report", text, re.I) and "write_metrics" in text, path.name
    assert "Markdown(" in text, f"{path.name}: no computed verdict"


def test_environment_yml_is_valid_and_matches_pyproject():
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["name"] == "phases-and-patterns"
    deps = env["dependencies"]
    assert any(isinstance(d, str) and d.startswith("python") for d in deps)
    assert "pip>=23" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = set(project["project"]["dependencies"]) | set(
        project["project"]["optional-dependencies"]["dev"])
    assert set(pip) - {"-e ."} == wanted
    assert "-e ." in pip
