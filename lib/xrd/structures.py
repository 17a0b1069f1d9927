"""Crystal structures for the powder-XRD study.

(a) :func:`random_crystal` / :func:`synthetic_specs` — the offline default: random crystals
    from pyxtal across all 230 space groups, balanced over the 7 crystal systems, seeded.
(b) :func:`read_mp_csv` — real Materials Project structures from a CSV in the MP-20 layout
    (columns ``material_id``, ``cif``, ``spacegroup.number``).
(c) :func:`load_matminer_mp` and :func:`load_mp_api` — optional loaders for users with network
    access (matminer's ``mp_all_20181018`` data set; the Materials Project API through
    ``mp-api``).  They import their package lazily and are never needed by the default run.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .patterns import CRYSTAL_SYSTEMS, space_groups_of

#: Elements the random crystals are made of: common in inorganic materials, all with X-ray
#: scattering factors in pymatgen.
ELEMENTS: tuple[str, ...] = (
    "Li", "Na", "K", "Rb", "Cs", "Be", "Mg", "Ca", "Sr", "Ba", "B", "Al", "Ga", "In", "Tl",
    "C", "Si", "Ge", "Sn", "Pb", "N", "P", "As", "Sb", "Bi", "O", "S", "Se", "Te", "F", "Cl",
    "Br", "I", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Y", "Zr", "Nb",
    "Mo", "Ru", "Rh", "Pd", "Ag", "Cd", "Hf", "Ta", "W", "Ir", "Pt", "Au", "La", "Ce", "Nd",
)


@dataclass(frozen=True)
class StructureSpec:
    """What to generate: structure ``index`` of crystal system ``system`` in ``space_group``."""

    index: int
    system: str
    space_group: int
    seed: int


def synthetic_specs(n_per_system: int, seed: int) -> list[StructureSpec]:
    """``n_per_system`` structures per crystal system, space groups cycled within each system.

    Within a system the space groups are visited in a seeded random order, cycling, so every
    space group appears once ``n_per_system`` reaches the system's number of groups (68 for
    tetragonal, the largest) and the groups of a system are equally represented.
    """
    rng = np.random.default_rng(seed)
    specs = []
    index = 0
    for system in CRYSTAL_SYSTEMS:
        groups = np.array(space_groups_of(system))
        order = rng.permutation(groups)
        for i in range(n_per_system):
            if i and i % len(order) == 0:
                order = rng.permutation(groups)
            specs.append(StructureSpec(index, system, int(order[i % len(order)]),
                                       int(rng.integers(0, 2**31 - 1))))
            index += 1
    return specs


def _composition(group: Any, rng: np.random.Generator, max_atoms: int,
                 ) -> tuple[list[str], list[int]]:
    """Random species and atom counts (conventional cell) compatible with ``group``'s Wyckoff
    multiplicities: 1–3 species, each on one or two Wyckoff positions, ≲ ``max_atoms`` atoms."""
    mults = sorted({int(w.multiplicity) for w in group.Wyckoff_positions})
    n_species = int(rng.choice([1, 2, 3], p=[0.2, 0.45, 0.35]))
    while n_species > 1 and n_species * mults[0] > max_atoms:
        n_species -= 1
    species = list(rng.choice(ELEMENTS, size=n_species, replace=False))
    counts = []
    budget = max(max_atoms, mults[0] * n_species)
    for i in range(n_species):
        left = budget - sum(counts) - mults[0] * (n_species - i - 1)
        allowed = [m for m in mults if m <= left] or [mults[0]]
        count = int(rng.choice(allowed))
        if rng.random() < 0.3:
            extra = [m for m in mults if count + m <= left]
            if extra:
                count += int(rng.choice(extra))
        counts.append(count)
    return [str(s) for s in species], counts


def random_crystal(spec: StructureSpec, max_atoms: int = 24, max_attempts: int = 10,
                   attempt_seconds: float = 5.0) -> tuple[Any | None, str]:
    """A random pyxtal crystal for ``spec`` as a pymatgen Structure, or ``(None, reason)``.

    pyxtal cannot place every composition in every space group; each attempt draws a new
    composition (seeded by ``spec.seed``), at most ``max_attempts`` attempts, each stopped
    after ``attempt_seconds`` (pyxtal occasionally searches for minutes; the limit needs
    SIGALRM, i.e. Unix and the main thread, and is skipped elsewhere).
    """
    from pyxtal import pyxtal
    from pyxtal.symmetry import Group

    rng = np.random.default_rng(spec.seed)
    group = Group(spec.space_group)
    reason = "no attempt"
    for _ in range(max_attempts):
        species, counts = _composition(group, rng, max_atoms)
        crystal = pyxtal()
        try:
            with warnings.catch_warnings(), _quiet(), _time_limit(attempt_seconds):
                warnings.simplefilter("ignore")
                crystal.from_random(3, spec.space_group, species, counts,
                                    random_state=int(rng.integers(0, 2**31 - 1)))
            if not crystal.valid:
                reason = f"pyxtal could not place {dict(zip(species, counts))}"
                continue
            structure = crystal.to_pymatgen()
        except Exception as exc:  # pyxtal raises many kinds for impossible compositions
            reason = f"{type(exc).__name__}: {exc}".strip()[:200]
            continue
        return structure, ""
    return None, f"space group {spec.space_group}: {max_attempts} attempts failed ({reason})"


class _AttemptTimeout(Exception):
    pass


class _time_limit:
    """Raise ``_AttemptTimeout`` in the block after ``seconds`` (SIGALRM; no-op where absent)."""

    def __init__(self, seconds: float) -> None:
        import signal
        import threading

        self.seconds = seconds
        self.active = (seconds and seconds > 0 and hasattr(signal, "SIGALRM")
                       and threading.current_thread() is threading.main_thread())

    def _raise(self, signum: int, frame: Any) -> None:
        raise _AttemptTimeout(f"pyxtal took more than {self.seconds:g} s")

    def __enter__(self) -> None:
        if self.active:
            import signal

            self._old = signal.signal(signal.SIGALRM, self._raise)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


class _quiet:
    """Silence pyxtal's prints to stdout during one call."""

    def __enter__(self) -> None:
        import contextlib

        self._ctx = contextlib.redirect_stdout(io.StringIO())
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


# ---------------------------------------------------------------------------------------------
# Real structures
# ---------------------------------------------------------------------------------------------

MP_COLUMNS: tuple[str, ...] = ("material_id", "cif", "spacegroup.number")


def read_mp_csv(path: str | Path, limit: int = 0, seed: int = 0) -> "Any":
    """The rows of an MP-20-layout CSV (``material_id``, ``cif``, ``spacegroup.number``, …).

    Returns a pandas DataFrame.  ``limit`` > 0 keeps a seeded random subset of that many rows.
    Raises ``FileNotFoundError``/``ValueError`` naming the file when it is missing or lacks a
    column.  The CIF strings are parsed later, one by one (:func:`structure_from_cif`), so one
    bad CIF never stops the batch.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MP-20 CSV {path}: no such file")
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"MP-20 CSV {path}: cannot be read as CSV ({exc})") from None
    missing = [c for c in MP_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"MP-20 CSV {path}: missing column(s) {', '.join(missing)} "
                         f"(the MP-20 layout has {', '.join(MP_COLUMNS)})")
    if limit and limit < len(df):
        df = df.sample(n=limit, random_state=seed).sort_index()
    return df.reset_index(drop=True)


def structure_from_cif(text: str, name: str = "CIF") -> Any:
    """A pymatgen Structure from a CIF string; ``ValueError`` naming ``name`` when it fails."""
    from pymatgen.core import Structure

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name}: empty CIF")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(text, fmt="cif")
    except Exception as exc:
        raise ValueError(f"{name}: CIF could not be parsed ({type(exc).__name__}: {exc})"[:300]) \
            from None
    if len(structure) == 0:
        raise ValueError(f"{name}: CIF has no atoms")
    return structure


def load_matminer_mp(limit: int = 0) -> Iterator[tuple[str, Any]]:
    """(material_id, Structure) pairs from matminer's ``mp_all_20181018`` (needs network once).

    Optional: ``pip install matminer``; the data set (~83,000 structures) is downloaded and
    cached by matminer on first use.  Never needed by the default run.
    """
    try:
        from matminer.datasets import load_dataset
    except ImportError:
        raise ImportError("load_matminer_mp needs matminer: `pip install matminer` (and network "
                          "access on first use to download mp_all_20181018)") from None
    df = load_dataset("mp_all_20181018")
    if limit:
        df = df.head(limit)
    id_col = "mpid" if "mpid" in df.columns else df.columns[0]
    for _, row in df.iterrows():
        yield str(row[id_col]), row["structure"]


def load_mp_api(api_key: str | None = None, limit: int = 100, **criteria: Any,
                ) -> Iterator[tuple[str, Any]]:
    """(material_id, Structure) pairs from the Materials Project API (``pip install mp-api``).

    ``api_key`` defaults to the ``MP_API_KEY`` environment variable (mp-api's own rule);
    ``criteria`` go to ``mpr.materials.summary.search`` (e.g. ``num_sites=(1, 20)``,
    ``crystal_system="Cubic"``).  Optional and never needed by the default run.
    """
    try:
        from mp_api.client import MPRester
    except ImportError:
        raise ImportError("load_mp_api needs mp-api: `pip install mp-api`, an API key from "
                          "materialsproject.org and network access") from None
    with MPRester(api_key) as mpr:
        docs = mpr.materials.summary.search(fields=["material_id", "structure"], **criteria)
        for doc in docs[:limit] if limit else docs:
            yield str(doc.material_id), doc.structure
