"""Small data sets in the layout of the data-set contract, for the phase-learning unit tests.

Real cctbx structure factors of random P-1 structures (``cctbx.development.random_structure``),
written with h5py in the layout :mod:`lib.phases.build` writes (``hkl``, ``intensity``,
``intensity_calc``, ``amplitude``, ``sign``, ``cell``, ``source_id``, root attributes with
``complete = True``), so the input pipeline and training tests run in seconds without
``00_data``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import h5py
import numpy as np

from lib.phases.reflections import index_set


def structure_factors(n_structures: int, n_reflections: int = 4630, seed: int = 0,
                      n_atoms: int = 10) -> dict[str, np.ndarray]:
    """F_calc (real, P-1 with the origin at an inversion centre) of random P-1 structures."""
    from cctbx import miller, sgtbx
    from cctbx.array_family import flex
    from cctbx.development import random_structure

    random.seed(seed)
    flex.set_random_seed(seed)
    hkl = index_set(4630)[:n_reflections]
    indices = flex.miller_index([tuple(int(v) for v in row) for row in hkl])
    sgi = sgtbx.space_group_info("P-1")
    f_all, cells = [], []
    elements = ["C"] * (n_atoms - 3) + ["N", "O", "O"]
    for _ in range(n_structures):
        xs = random_structure.xray_structure(sgi, elements=elements, volume_per_atom=18.0,
                                             min_distance=1.2, u_iso=0.03, random_u_iso=True)
        ms = miller.set(xs.crystal_symmetry(), indices, anomalous_flag=False)
        f = ms.structure_factors_from_scatterers(xs, algorithm="direct").f_calc().data()
        f_all.append(np.array(flex.real(f)))
        cells.append(xs.unit_cell().parameters())
    f_calc = np.array(f_all)
    return {"hkl": hkl, "f_calc": f_calc, "cell": np.array(cells)}


def write_fake_dataset(path: str | Path, n_structures: int, kind: str = "calculated",
                       n_reflections: int = 4630, seed: int = 0) -> Path:
    """Write a contract-layout HDF5 data set of ``n_structures`` random P-1 structures."""
    path = Path(path)
    data = structure_factors(n_structures, n_reflections, seed)
    f_calc = data["f_calc"]
    intensity_calc = (f_calc**2).astype(np.float32)
    intensity = intensity_calc.copy()
    if kind == "experimental":
        rng = np.random.default_rng(seed)
        scale = rng.uniform(0.5, 50.0, size=(n_structures, 1))
        intensity = (intensity_calc * scale * rng.normal(1.0, 0.03, intensity.shape)
                     ).astype(np.float32)
        intensity[rng.random(intensity.shape) > 0.95] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["hkl"] = data["hkl"].astype(np.int32)
        f.create_dataset("intensity", data=intensity, chunks=(min(16, n_structures),
                                                              n_reflections))
        f["intensity_calc"] = intensity_calc
        f["amplitude"] = np.abs(f_calc).astype(np.float32)
        f["sign"] = np.where(f_calc >= 0, 1, -1).astype(np.int8)
        f["cell"] = data["cell"]
        f.create_dataset("source_id", data=[f"fake_{i}" for i in range(n_structures)],
                         dtype=h5py.string_dtype())
        f.attrs.update({"kind": kind, "simulated": True, "n_structures": n_structures,
                        "provenance": json.dumps({"generator": "tests/_fake_data.py",
                                                  "seed": seed}),
                        "complete": True})
    return path
