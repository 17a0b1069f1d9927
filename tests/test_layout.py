"""The project's shape: notebooks, parameters cells, the pinned environment."""

import ast
import re
import tomllib

import jupytext
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from lib import config

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))


def test_one_notebook_per_section():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07", "08"]


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


def _pyproject_requirements() -> list[Requirement]:
    """pyproject.toml's dependencies and its ``dev`` extra, as parsed requirements."""
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(r) for r in project["project"]["dependencies"]
            + project["project"]["optional-dependencies"]["dev"]]


def _lock_pins() -> dict[str, str]:
    """requirements.lock as {normalised name: pinned version}; every line must be ``name==v``."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(
            (config.ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", \
            f"requirements.lock:{number}: {line!r} is not pinned with =="
        name = canonicalize_name(req.name)
        assert name not in pins, f"requirements.lock:{number}: {name} pinned twice"
        pins[name] = specs[0].version
    return pins


def test_lock_pins_every_dependency_inside_pyproject_ranges():
    pins = _lock_pins()
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"requirements.lock does not pin {name} (pyproject.toml: {req})"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]} outside pyproject.toml's {req}")
        for extra in req.extras:  # dask[distributed]: the extra's packages are pinned too
            assert extra in pins, f"requirements.lock does not pin {extra} ({req})"
    assert canonicalize_name("phases-and-patterns") not in pins  # installed editable, not pinned


def test_installed_environment_matches_the_lock():
    """The environment the tests run in is the locked one (skipped for other environments)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = _lock_pins()
    wrong = {}
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        try:
            have = version(req.name)
        except PackageNotFoundError:
            have = None
        if have != pins[name]:
            wrong[name] = (have, pins[name])
    if wrong:
        pytest.skip(f"this environment is not the locked one: {wrong}")


def test_environment_yml_installs_the_lock():
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["name"] == "phases-and-patterns"
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    project = tomllib.loads((config.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock_head = (config.ROOT / "requirements.lock").read_text(encoding="utf-8")[:400]
    locked_python = re.search(r"\(Python (\d+\.\d+)\.\d+\)", lock_head).group(1)
    assert python == f"python={locked_python}", "environment.yml's python is not the lock's"
    assert SpecifierSet(project["project"]["requires-python"]).contains(f"{locked_python}.99")
    assert "pip>=23" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-r requirements.lock", "-e ."]
    ensure_env = (config.ROOT / "scripts" / "ensure_env.sh").read_text(encoding="utf-8")
    assert "-r \"$_root/requirements.lock\"" in ensure_env
    assert "'pyproject.toml', 'requirements.lock'" in ensure_env  # the reinstall stamp


# ---------------------------------------------------------------------------------------------
# The package's shape: data flows one way, every function has a caller
# ---------------------------------------------------------------------------------------------

LIB = config.ROOT / "lib"
#: The study's machinery: may not import the reports' packages.
MACHINERY = ("config", "runner", "atomic", "figures", "metrics", "parallel")


def _intra_package_imports(path):
    """(module-level imports, function-level imports) of sibling modules, as module names.

    Imports under ``if TYPE_CHECKING:`` are types only and do not count.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    top, nested = set(), set()
    top_ids = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level != 1 or id(node) in typing_only:
            continue
        names = {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        (top if id(node) in top_ids else nested).update(names)
    return top, nested


@pytest.mark.parametrize("package", ["phases", "xrd"])
def test_each_module_imports_only_from_below_it(package):
    """Within lib/phases and lib/xrd the imports form a DAG, all at module level (no lazy
    sibling imports that climb back up the layers)."""
    graph, lazy = {}, {}
    for path in sorted((LIB / package).glob("*.py")):
        top, nested = _intra_package_imports(path)
        graph[path.stem] = top
        if nested:
            lazy[path.stem] = sorted(nested)
    assert not lazy, f"lib/{package}: imports inside functions: {lazy}"
    done, visiting = set(), []

    def visit(name):
        if name in done:
            return
        assert name not in visiting, f"lib/{package}: import cycle {visiting + [name]}"
        visiting.append(name)
        for dep in graph.get(name, ()):
            visit(dep)
        visiting.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_machinery_does_not_import_the_reports():
    for name in MACHINERY:
        text = (LIB / f"{name}.py").read_text(encoding="utf-8")
        assert not re.search(r"^\s*from (\.|lib\.)(phases|xrd)\b|^\s*import lib\.(phases|xrd)",
                             text, re.M), f"lib/{name}.py imports a report's package"


def test_every_lib_function_has_a_caller():
    """No function or class in lib/ is left without a caller in lib/, notebooks/, benchmarks/
    or scripts/ (tests alone do not count)."""
    sources = {}
    for folder in ("lib", "notebooks", "benchmarks", "scripts"):
        for path in (config.ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".sh") and path.is_file():
                sources[path] = path.read_text(encoding="utf-8")
    orphans = []
    for path in sorted(LIB.rglob("*.py")):
        for node in ast.parse(sources[path]).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            pattern = re.compile(rf"\b{re.escape(node.name)}\b")
            uses = sum(len(pattern.findall(text)) for text in sources.values()) - 1
            if uses <= 0:
                orphans.append(f"{path.relative_to(config.ROOT)}: {node.name}")
    assert not orphans, "functions without a caller:\n" + "\n".join(orphans)


def test_readme_lists_the_phase_modules_in_import_order():
    """The README's `lib/phases/` row names every module, each after all the modules it
    imports: reading it top-down follows the data."""
    readme = (config.ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `lib/phases/` |"))
    listed = [name for name in re.findall(r"`(\w+)`", row)
              if (LIB / "phases" / f"{name}.py").is_file()]
    modules = {p.stem for p in (LIB / "phases").glob("*.py") if p.stem != "__init__"}
    assert set(listed) == modules, f"README lacks {modules - set(listed)}"
    position = {name: i for i, name in enumerate(listed)}
    for name in listed:
        top, _ = _intra_package_imports(LIB / "phases" / f"{name}.py")
        later = [dep for dep in top if position.get(dep, -1) > position[name]]
        assert not later, f"lib/phases/{name} imports {later}, listed after it in the README"
