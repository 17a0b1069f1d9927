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


# ---------------------------------------------------------------------------------------------
# Measured data sets (model CIF + reflections) for the readers and the experimental builder
# ---------------------------------------------------------------------------------------------


def synthetic_structure(seed: int = 7, space_group: str = "P 1 21/c 1"):
    """A small random cctbx structure (6 C + 2 O, U_iso = 0.02 Å²), the same for a seed."""
    from cctbx import sgtbx
    from cctbx.array_family import flex
    from cctbx.development import random_structure

    state = random.getstate()
    random.seed(seed)
    flex.set_random_seed(seed)
    try:
        return random_structure.xray_structure(
            sgtbx.space_group_info(space_group), elements=["C"] * 6 + ["O"] * 2,
            min_distance=1.2, volume_per_atom=18, u_iso=0.02)
    finally:
        random.setstate(state)


def measured_texts(xs, scale: float = 7.5, d_min: float = 1.0,
                   data_name: str = "synthetic") -> dict[str, object]:
    """Texts of a measured data set of ``xs``: I_meas = ``scale`` · |F_calc|² (σ = 1).

    ``cif`` (the model), ``refl_cif`` (COD-style reflection CIF whose calculated column holds
    junk), ``hklf`` (SHELX HKLF 4 with its 0 0 0 terminator), ``embedded`` (the model with
    ``_shelx_hkl_file``, no checksum), ``i_meas`` (the cctbx intensity array).
    """
    import io

    out = io.StringIO()
    xs.as_cif_simple(out=out, data_name=data_name)
    cif = out.getvalue()
    fc = xs.structure_factors(d_min=d_min, algorithm="direct").f_calc()
    i_calc = fc.as_intensity_array()
    i_meas = i_calc.customized_copy(data=i_calc.data() * scale,
                                    sigmas=i_calc.data() * 0 + 1.0)
    rows = [f"{h:4d}{k:4d}{l:4d} {1.0:10.2f} {v:12.3f} {1.0:8.2f} o"
            for (h, k, l), v in zip(i_meas.indices(), i_meas.data())]
    sg = str(xs.space_group_info()).replace("'", "")
    cell = xs.unit_cell().parameters()
    refl_cif = (f"data_{data_name}\n_symmetry_space_group_name_H-M '{sg}'\n"
                + "".join(f"_cell_length_{n} {v:.4f}\n" for n, v in zip("abc", cell[:3]))
                + "".join(f"_cell_angle_{n} {v:.3f}\n" for n, v in
                          zip(("alpha", "beta", "gamma"), cell[3:]))
                + "loop_\n_refln_index_h\n_refln_index_k\n_refln_index_l\n"
                  "_refln_F_squared_calc\n_refln_F_squared_meas\n_refln_F_squared_sigma\n"
                  "_refln_observed_status\n" + "\n".join(rows) + "\n")
    hklf_out = io.StringIO()
    i_meas.export_as_shelx_hklf(file_object=hklf_out, normalise_if_format_overflow=True)
    hklf = hklf_out.getvalue()
    embedded = cif + "\n_shelx_hkl_file\n;\n" + hklf + ";\n"
    return {"cif": cif, "refl_cif": refl_cif, "hklf": hklf, "embedded": embedded,
            "i_meas": i_meas, "n_unique": i_calc.size()}


def hklf_with_intensities(hklf: str, transform) -> str:
    """An HKLF 4 text whose F² column is replaced by ``transform(F² array)`` (e.g. zeros or a
    permutation: a data set that cannot be the measurement of its model)."""
    lines = hklf.splitlines()
    body = [ln for ln in lines if ln[:12].split() != ["0", "0", "0"]]
    values = np.array([float(ln[12:20]) for ln in body])
    new = np.asarray(transform(values), dtype=float)
    out = [f"{ln[:12]}{v:8.2f}{ln[20:]}" for ln, v in zip(body, new)]
    return "\n".join(out + ["   0   0   0    0.00    0.00"]) + "\n"


def write_measured_set(folder: str | Path, files: dict[str, str]) -> Path:
    """Write one data-set folder (``structure.cif``, ``reflections.hkl``, ...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
