"""Measured intensities: real reflection files, and a simulator of measurement.

Real data
---------
:func:`read_measured` reads one single-crystal data set — a model (the structure CIF) and its
measured reflections — and returns a :class:`MeasuredData`: the measured intensities
I_meas = F²_meas merged to the unique set of the structure's space group, matched to the
intensities I_calc = |F_calc|² that cctbx computes from the model in the CIF.  Three
formats are read (all through iotbx):

* COD-style reflection CIFs (``.hkl``/``.fcf`` in CIF syntax) with ``_refln_F_squared_meas``
  (never the calculated column ``_refln_F_squared_calc``), or ``_refln_F_meas`` converted to
  F² (e.g. the neutron data set ``cod_2100301``);
* SHELX HKLF 4 files (``h k l F² σ(F²)`` in fixed columns);
* CIFs with the reflections embedded in ``_shelx_hkl_file`` (HKLF 4), as Acta Cryst E / IUCr
  journals and SHELXL ≥ 2014 write them; the embedded ``_shelx_hkl_checksum`` is verified
  (:func:`shelx_checksum`).

HKLF 5 (twinned) data — negative batch numbers, or ``HKLF 5`` in the ``.ins``/``.res`` beside
the file or embedded in the CIF — is refused with that reason, never read as HKLF 4.  A SHELX
reflection file must end with its ``0 0 0`` terminator line: one without it was cut short
(truncated) and is refused.

:func:`read_measured_folder` reads every data set of a folder and goes on past bad ones,
listing each skipped path with its reason.

The simulator of measurement lives in :mod:`lib.phases.simulate`; the §3.1 helpers in
:mod:`lib.phases.normalisation`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .structures import (cif_ascii_text, cif_loop_problem, duplicate_block_names,
                         implausible_sites)

# ---------------------------------------------------------------------------------------------
# Real data: errors, the data class
# ---------------------------------------------------------------------------------------------


#: Names of the structure CIF and reflection file inside a data-set folder (the layout of
#: ``../shared/data/experimental/<id>/``); other names are found by suffix.
STRUCTURE_NAMES: tuple[str, ...] = ("structure.cif", "structure_with_hkl.cif")
REFLECTION_SUFFIXES: tuple[str, ...] = (".hkl", ".fcf")
#: Scattering tables: X-ray form factors (International Tables 1992) and neutron lengths.
XRAY_TABLE: str = "it1992"
NEUTRON_TABLE: str = "neutron"


class MeasuredDataError(ValueError):
    """A data set that cannot be read; ``path`` names the file, ``reason`` says why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class MeasuredData:
    """One crystal's measured intensities, merged and matched to the model's F_calc.

    Arrays have one entry per unique reflection of the space group (Friedel mates merged,
    systematic absences removed), in cctbx's asymmetric unit:

    ``hkl`` (n, 3) int32 Miller indices; ``i_meas`` measured intensity F²_meas (the file's
    arbitrary scale); ``sigma`` its standard uncertainty σ(F²); ``i_calc`` = |F_calc|² and
    ``f_calc`` (complex) from the model (electrons for X-rays, fm for neutrons, per cell);
    ``stol2`` = (sin θ/λ)² in Å⁻²; ``d_spacing`` in Å.
    """

    source_id: str
    space_group: str
    unit_cell: tuple[float, float, float, float, float, float]
    hkl: np.ndarray
    i_meas: np.ndarray
    sigma: np.ndarray
    i_calc: np.ndarray
    f_calc: np.ndarray
    stol2: np.ndarray
    d_spacing: np.ndarray
    radiation: str
    structure_path: str = ""
    reflections_path: str = ""
    reflection_format: str = ""
    n_records: int = 0

    @property
    def n_reflections(self) -> int:
        """Number of unique measured reflections."""
        return int(self.hkl.shape[0])

    @property
    def pearson_r(self) -> float:
        """Pearson correlation of I_meas and I_calc (a check that model and data match);
        NaN when either is constant (e.g. all measured intensities zero)."""
        if self.i_meas.size < 2 or np.ptp(self.i_meas) == 0 or np.ptp(self.i_calc) == 0:
            return float("nan")
        return float(np.corrcoef(self.i_meas, self.i_calc)[0, 1])

    @property
    def d_min(self) -> float:
        """Resolution d_min in Å."""
        return float(self.d_spacing.min())

    def crystal_symmetry(self) -> Any:
        """cctbx ``crystal.symmetry`` of the data set."""
        from cctbx import crystal

        return crystal.symmetry(unit_cell=self.unit_cell, space_group_symbol=self.space_group)

    def miller_set(self) -> Any:
        """cctbx ``miller.set`` of the unique reflections."""
        from cctbx import miller
        from cctbx.array_family import flex

        idx = flex.miller_index([tuple(int(v) for v in row) for row in self.hkl])
        return miller.set(self.crystal_symmetry(), idx, anomalous_flag=False)

    def on_index_set(self, hkl: np.ndarray) -> dict[str, np.ndarray]:
        """Measured and calculated data on another index set in P-1 (e.g. report's 4630).

        The unique reflections are expanded to P1 and reduced to P-1's asymmetric unit (the
        convention of :mod:`lib.phases.reflections`); returns ``i_meas``, ``i_calc`` (float64) and
        ``f_calc`` (complex128) aligned with ``hkl`` — NaN where the reflection was not
        measured.  F_calc phases are those of the model's origin after expansion to P1.
        """
        from cctbx import crystal, miller
        from cctbx.array_family import flex

        ms = self.miller_set()
        data = flex.complex_double(self.f_calc.astype(np.complex128))
        fc = miller.array(ms, data=data).expand_to_p1()
        im = miller.array(ms, data=flex.double(self.i_meas.astype(np.float64))).expand_to_p1()
        pm1 = crystal.symmetry(unit_cell=self.unit_cell, space_group_symbol="P-1")
        fc = fc.customized_copy(crystal_symmetry=pm1).map_to_asu()
        im = im.customized_copy(crystal_symmetry=pm1).map_to_asu()
        lookup = {tuple(h): i for i, h in enumerate(fc.indices())}
        f_all = fc.data().as_numpy_array()
        i_all = im.data().as_numpy_array()
        target = np.asarray(hkl)
        out_f = np.full(len(target), np.nan + 0j, dtype=np.complex128)
        out_i = np.full(len(target), np.nan)
        for j, h in enumerate(map(tuple, target.tolist())):
            i = lookup.get(h)
            if i is not None:
                out_f[j] = f_all[i]
                out_i[j] = i_all[i]
        return {"i_meas": out_i, "i_calc": np.abs(out_f) ** 2, "f_calc": out_f}


# ---------------------------------------------------------------------------------------------
# Real data: readers
# ---------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    """The text of ``path``; an unreadable or empty file raises an error naming it."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MeasuredDataError(path, f"cannot read file ({exc.strerror})") from None
    if not text.strip():
        raise MeasuredDataError(path, "empty file")
    return text


def _read_cif(path: Path, text: str | None = None) -> Any:
    """Parse a CIF with iotbx; a syntax error (e.g. a truncated file) names the file."""
    import iotbx.cif


    if text is None:
        text = _read_text(path)
    problem = cif_loop_problem(text)
    if problem:  # iotbx's parser crashes (segfault) on such loops: never hand it over
        raise MeasuredDataError(path, f"malformed CIF ({problem})")
    duplicates = duplicate_block_names(text)
    if duplicates:
        raise MeasuredDataError(path, "duplicate data block name(s) "
                                      f"{', '.join('data_' + d for d in duplicates)}: which "
                                      "block is meant cannot be told")
    try:
        # iotbx reads ASCII only: non-ASCII characters in CIF 1.1 markup (Å → \%A)
        return iotbx.cif.reader(input_string=cif_ascii_text(text), strict=False)
    except Exception as exc:  # CifParserError and boost errors
        raise MeasuredDataError(path, f"malformed or truncated CIF ({exc})") from None


def _structure_block(path: Path, reader: Any, prefer: str | None = None) -> tuple[str, Any]:
    """The (block name, xray.structure) of the structure CIF's block with atoms."""
    model = reader.model()
    candidates = [name for name in model.keys()
                  if "_atom_site_fract_x" in model[name] or "_atom_site.fract_x" in model[name]
                  or "_atom_site_cartn_x" in model[name]]
    if not candidates:
        raise MeasuredDataError(path, "CIF without atoms (no _atom_site_fract_x loop)")
    if prefer is not None and prefer in candidates:
        candidates = [prefer] + [c for c in candidates if c != prefer]
    errors = []
    for name in candidates:
        try:
            xs = reader.build_crystal_structures(data_block_name=name)
        except Exception as exc:
            errors.append(f"block {name}: {exc}")
            continue
        if xs.scatterers().size() == 0:
            errors.append(f"block {name}: no atoms")
            continue
        types = {sc.scattering_type for sc in xs.scatterers()}
        bad = sorted(t for t in types if not re.match(r"^[A-Z][a-z]?", t or ""))
        if bad:
            errors.append(f"block {name}: atoms of unknown type {bad}")
            continue
        implausible = implausible_sites(xs)
        if implausible:
            errors.append(f"block {name}: {implausible}")
            continue
        return name, xs
    raise MeasuredDataError(path, "no usable structure: " + "; ".join(errors))


def _radiation(*blocks: Any) -> str:
    """``"neutron"``, ``"electron"`` or ``"x-ray"`` from the _diffrn_radiation items."""
    for block in blocks:
        if block is None:
            continue
        for key in ("_diffrn_radiation_probe", "_diffrn_radiation_type",
                    "_diffrn_radiation.probe", "_diffrn_radiation.type"):
            try:
                value = block.get(key)
            except Exception:
                value = None
            if value is None:
                continue
            low = str(value).lower()
            if "neutron" in low:
                return "neutron"
            if "electron" in low:
                return "electron"
    return "x-ray"


_HKLF_LINE = re.compile(r"^\s*HKLF\s+(.*)$", re.IGNORECASE | re.MULTILINE)


def _hklf_instruction(res_text: str | None) -> tuple[int, np.ndarray | None]:
    """The HKLF code and transformation matrix (None = identity) of a SHELX .res/.ins text."""
    if not res_text:
        return 4, None
    match = _HKLF_LINE.search(res_text)
    if not match:
        return 4, None
    fields = match.group(1).split("!")[0].split()
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return 4, None
    code = int(values[0]) if values else 4
    matrix = None
    if len(values) >= 11:
        m = np.array(values[2:11]).reshape(3, 3)
        if not np.allclose(m, np.eye(3)):
            matrix = m
    return code, matrix


def _locate_bad_hklf_line(text: str) -> str:
    """Describe the first line of an HKLF 4 text that is not ``3I4, 2F8`` numbers."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            h, k, l = (int(line[i:i + 4]) for i in (0, 4, 8))
            float(line[12:20])
            if line[20:28].strip():
                float(line[20:28])
        except ValueError:
            return f"line {number} is not numeric HKLF 4 (3I4,2F8): {line.strip()[:60]!r}"
        if (h, k, l) == (0, 0, 0):
            break
    return "not an HKLF 4 file"


def shelx_checksum(text: str) -> int:
    """SHELXL's checksum of an embedded file (``_shelx_hkl_checksum``, ``_shelx_res_checksum``).

    The sum of the character codes of every non-blank character (code > 32) of the text,
    mixed as SHELXL does: ``((s mod 714025) · 1366 + 150889) mod 714025 mod 100000``.
    Checked against the five SHELXL CIFs of ``../shared/data/experimental`` (10 checksums).
    """
    total = sum(b for b in text.encode("utf-8") if b > 32)
    return ((total % 714025) * 1366 + 150889) % 714025 % 100000


def _check_hkl_checksum(path: Path, hkl_text: str, recorded: str | None) -> None:
    """Raise when the embedded reflections do not give the recorded ``_shelx_hkl_checksum``."""
    if recorded is None or recorded.strip() in ("", "?", "."):
        return
    try:
        expected = int(recorded.strip())
    except ValueError:
        raise MeasuredDataError(path, f"_shelx_hkl_checksum {recorded!r} is not an "
                                      "integer") from None
    found = shelx_checksum(hkl_text)
    if found != expected:
        raise MeasuredDataError(path, f"_shelx_hkl_checksum mismatch: the CIF records "
                                      f"{expected}, the embedded _shelx_hkl_file gives {found} "
                                      "(reflections altered or truncated)")


def _check_instructions_beside(path: Path) -> None:
    """Refuse an HKLF file whose SHELX instructions say ``HKLF 5`` (twinned data).

    The instructions are the ``.ins``/``.res`` files of its data-set folder, or — in a folder
    holding several reflection files — those of the same stem (``name.hkl`` + ``name.res``).
    """
    siblings = sorted(p for p in path.parent.iterdir() if p.is_file())
    n_reflection_files = sum(p.suffix.lower() in REFLECTION_SUFFIXES for p in siblings)
    for other in siblings:
        if other.suffix.lower() not in (".ins", ".res"):
            continue
        if n_reflection_files > 1 and other.stem != path.stem:
            continue
        try:
            code, _ = _hklf_instruction(other.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if code == 5:
            raise MeasuredDataError(path, f"HKLF 5 (twinned) data is not supported "
                                          f"(HKLF 5 in {other.name})")


def _read_hklf(path: Path, text: str, symmetry: Any) -> Any:
    """SHELX HKLF 4 text (h k l F² σ) → cctbx intensity array, via iotbx.shelx.hklf."""
    from iotbx.shelx import hklf

    # the embedded CIF text value starts with a newline; iotbx stops at the first blank line
    text = text.lstrip("\r\n")
    if not text.strip():
        raise MeasuredDataError(path, "empty reflection list (no HKLF 4 data)")
    try:
        reader = hklf.reader(file_object=io.StringIO(text))
    except RuntimeError as exc:
        if "No data" in str(exc):
            raise MeasuredDataError(path, "empty reflection list (no HKLF 4 data)") from None
        raise MeasuredDataError(path, f"malformed HKLF 4 reflections: "
                                      f"{_locate_bad_hklf_line(text)} ({exc})") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    terminated = any(ln[:12].split() == ["0", "0", "0"] for ln in lines)
    if not terminated and lines and len(lines[-1].rstrip()) < 20:
        raise MeasuredDataError(path, "truncated HKLF 4 file: last line incomplete "
                                      f"({lines[-1].strip()!r}) and no 0 0 0 terminator")
    if not terminated:
        raise MeasuredDataError(path, f"truncated HKLF 4 file: no 0 0 0 terminator line "
                                      f"after {len(lines)} reflection lines (the file was "
                                      f"cut short at a line boundary?)")
    batches = reader.batch_numbers()
    if batches is not None:
        n_negative = int((batches.as_numpy_array() < 0).sum())
        if n_negative:
            raise MeasuredDataError(path, f"HKLF 5 (twinned) data is not supported: "
                                          f"{n_negative} reflections with a negative batch "
                                          f"number (twin components of overlapping "
                                          f"reflections)")
    arrays = reader.as_miller_arrays(crystal_symmetry=symmetry, merge_equivalents=False)
    return arrays[0].set_observation_type_xray_intensity()


_MEAS_F2 = ("_refln_F_squared_meas", "_refln.F_squared_meas", "_refln_intensity_meas",
            "_refln.intensity_meas")
_MEAS_F = ("_refln_F_meas", "_refln.F_meas")


def _cif_reflections(path: Path, reader: Any, prefer: str | None) -> tuple[Any, str, Any]:
    """The measured array of a reflection CIF: (miller array, format label, cif block).

    Uses ``_refln_F_squared_meas`` (never the ``_calc`` columns); falls back to
    ``_refln_F_meas`` converted to F² (σ(F²) = 2 F σ(F)).
    """
    model = reader.model()
    names = list(model.keys())
    if prefer in names:
        names = [prefer] + [n for n in names if n != prefer]
    found_loop = False
    for name in names:
        block = model[name]
        keys = {k.lower() for k in block.keys()}
        if not any(k.startswith(("_refln_index_h", "_refln.index_h")) for k in keys):
            continue
        found_loop = True
        try:
            arrays = reader.build_miller_arrays(data_block_name=name)
        except Exception as exc:
            if "symmetry" in str(exc).lower():
                raise MeasuredDataError(path, f"inconsistent space group / symmetry "
                                              f"operators in block {name} ({exc})") from None
            raise MeasuredDataError(path, f"cannot read the _refln loop of block {name} "
                                          f"({exc})") from None
        for array in arrays.values():
            labels = [str(lab).lower() for lab in array.info().labels]
            if any(lab in (m.lower() for m in _MEAS_F2) for lab in labels):
                return array.set_observation_type_xray_intensity(), \
                    "CIF _refln_F_squared_meas", block
        for array in arrays.values():
            labels = [str(lab).lower() for lab in array.info().labels]
            if any(lab in (m.lower() for m in _MEAS_F) for lab in labels):
                amp = array.set_observation_type_xray_amplitude()
                return amp.f_as_f_sq(), "CIF _refln_F_meas (as F²)", block
    if not found_loop:
        raise MeasuredDataError(path, "no reflections: neither a _refln_index_h loop nor "
                                      "an embedded _shelx_hkl_file")
    raise MeasuredDataError(path, "missing columns: no measured _refln_F_squared_meas or "
                                  "_refln_F_meas (calculated columns are never used)")


def _block_value(block: Any, key: str) -> str | None:
    try:
        value = block.get(key)
    except Exception:
        return None
    return None if value is None else str(value)


def _check_symmetry(path: Path, model_symmetry: Any, data_symmetry: Any) -> None:
    """Raise when the reflection file's space group or cell contradict the model's."""
    if data_symmetry is None:
        return
    sg = data_symmetry.space_group_info()
    if sg is not None and model_symmetry.space_group_info() is not None:
        a = model_symmetry.space_group().type().number()
        b = sg.group().type().number()
        if a != b:
            raise MeasuredDataError(path, f"wrong space group: reflections in "
                                          f"{sg} but the model is in "
                                          f"{model_symmetry.space_group_info()}")
    uc = data_symmetry.unit_cell()
    if uc is not None:
        p_data = np.array(uc.parameters())
        p_model = np.array(model_symmetry.unit_cell().parameters())
        if np.any(np.abs(p_data[:3] - p_model[:3]) > 0.02 * p_model[:3]) or \
                np.any(np.abs(p_data[3:] - p_model[3:]) > 2.0):
            raise MeasuredDataError(path, f"unit cell of the reflections {tuple(p_data)} "
                                          f"differs from the model's {tuple(p_model)}")


def find_data_set(path: str | Path) -> tuple[Path, Path | None]:
    """(structure CIF, reflection file or None) of a data-set folder or a file.

    A folder holds ``structure.cif`` + ``reflections.hkl`` (or any one CIF and one
    ``.hkl``/``.fcf``), or one CIF with an embedded ``_shelx_hkl_file``.  A CIF file given
    directly is paired with a ``.hkl``/``.fcf`` of the same stem when one exists.
    """
    path = Path(path)
    if not path.exists():
        raise MeasuredDataError(path, "no such file or folder")
    if path.is_file():
        for suffix in REFLECTION_SUFFIXES:
            partner = path.with_suffix(suffix)
            if partner.exists() and partner != path:
                return path, partner
        return path, None
    for name in STRUCTURE_NAMES:
        if (path / name).is_file():
            structure = path / name
            break
    else:
        cifs = sorted(p for p in path.glob("*.cif") if p.is_file())
        if not cifs:
            raise MeasuredDataError(path, "no structure CIF in the data-set folder")
        if len(cifs) > 1:
            raise MeasuredDataError(path, f"{len(cifs)} CIFs and none named structure.cif: "
                                          f"{', '.join(c.name for c in cifs)}")
        structure = cifs[0]
    refl = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower()
                  in REFLECTION_SUFFIXES)
    if len(refl) > 1:
        named = [p for p in refl if p.name == "reflections.hkl"]
        if not named:
            raise MeasuredDataError(path, f"{len(refl)} reflection files and none named "
                                          f"reflections.hkl: {', '.join(p.name for p in refl)}")
        refl = named
    return structure, (refl[0] if refl else None)


def read_measured(path: str | Path, reflections: str | Path | None = None,
                  source_id: str | None = None) -> MeasuredData:
    """Read one data set: model + measured F², merged and matched to F_calc.

    ``path`` is a data-set folder (see :func:`find_data_set`) or a structure CIF;
    ``reflections`` optionally names the reflection file (COD-style CIF ``.hkl``/``.fcf``
    or SHELX HKLF 4).  Without a reflection file the CIF must embed ``_shelx_hkl_file``.
    Records with σ < 0 (SHELX's mark of a rejected reflection) or (0, 0, 0) are dropped;
    measured F² are merged (cctbx ``merge_equivalents``, σ-weighted) to the unique set of
    the model's space group with Friedel mates merged and systematic absences removed;
    F_calc is computed by cctbx (direct summation) from the model with X-ray form factors
    (IT 1992) or, for neutron data (``_diffrn_radiation_probe``/``type``), neutron
    scattering lengths.  Raises :class:`MeasuredDataError` naming the file and the reason.
    """
    path = Path(path)
    if reflections is None:
        structure_path, refl_path = find_data_set(path)
    else:
        structure_path, refl_path = path, Path(reflections)
        if not refl_path.exists():
            raise MeasuredDataError(refl_path, "no such file")
    if source_id is None:
        source_id = path.name if path.is_dir() else structure_path.stem

    s_reader = _read_cif(structure_path)
    refl_reader = None
    refl_text = None
    if refl_path is not None:
        refl_text = _read_text(refl_path)
        if re.search(r"^\s*data_", refl_text, re.MULTILINE):
            refl_reader = _read_cif(refl_path, refl_text)

    prefer = None
    if refl_reader is not None:
        names = list(refl_reader.model().keys())
        prefer = names[0] if names else None
    block_name, xs = _structure_block(structure_path, s_reader, prefer)
    s_block = s_reader.model()[block_name]
    symmetry = xs.crystal_symmetry()

    data_block = None
    if refl_reader is not None:
        obs, fmt, data_block = _cif_reflections(refl_path, refl_reader, block_name)
        _check_symmetry(refl_path, symmetry, obs.crystal_symmetry())
        where = refl_path
    elif refl_path is not None:
        _check_instructions_beside(refl_path)
        obs, fmt = _read_hklf(refl_path, refl_text, symmetry), "SHELX HKLF 4"
        where = refl_path
    else:
        embedded = _block_value(s_block, "_shelx_hkl_file")
        if embedded is None:
            raise MeasuredDataError(structure_path, "no reflections: no reflection file "
                                                    "beside it and no embedded _shelx_hkl_file")
        code, matrix = _hklf_instruction(_block_value(s_block, "_shelx_res_file"))
        if code == 5:
            raise MeasuredDataError(structure_path, "HKLF 5 (twinned) data is not supported "
                                                    "(HKLF 5 in the embedded _shelx_res_file)")
        if code != 4:
            raise MeasuredDataError(structure_path, f"HKLF {code} reflections: only "
                                                    "HKLF 4 is read")
        _check_hkl_checksum(structure_path, embedded,
                            _block_value(s_block, "_shelx_hkl_checksum"))
        obs, fmt = _read_hklf(structure_path, embedded, symmetry), \
            "embedded _shelx_hkl_file (HKLF 4)"
        if matrix is not None:
            from cctbx.array_family import flex

            # SHELXL: h' = R h (h'_i = Σ_j r_ij h_j), r11 r12 … r33 given row by row
            hkl = np.rint(np.array(obs.indices(), dtype=float).reshape(-1, 3) @ matrix.T)
            obs = obs.customized_copy(indices=flex.miller_index(
                [tuple(int(v) for v in row) for row in hkl]))
        where = structure_path
    n_records = int(obs.size())
    if n_records == 0:
        raise MeasuredDataError(where, "no measured reflections")

    obs = _merge(where, obs, symmetry)
    values = obs.data().as_numpy_array()
    if values.size > 1 and np.ptp(values) == 0:
        raise MeasuredDataError(where, f"no signal: all {values.size} measured intensities "
                                       f"are equal ({values[0]:g})")
    radiation = _radiation(s_block, data_block)
    f_calc = _f_calc(structure_path, xs, obs, radiation)

    i_meas = obs.data().as_numpy_array().astype(np.float64)
    sig = obs.sigmas()
    sigma = sig.as_numpy_array().astype(np.float64) if sig is not None \
        else np.full_like(i_meas, np.nan)
    fc = f_calc.data().as_numpy_array().astype(np.complex128)
    return MeasuredData(
        source_id=source_id,
        space_group=str(symmetry.space_group_info()),
        unit_cell=tuple(float(v) for v in symmetry.unit_cell().parameters()),
        hkl=np.array(obs.indices(), dtype=np.int32).reshape(-1, 3),
        i_meas=i_meas, sigma=sigma, i_calc=np.abs(fc) ** 2, f_calc=fc,
        stol2=obs.sin_theta_over_lambda_sq().data().as_numpy_array(),
        d_spacing=obs.d_spacings().data().as_numpy_array(),
        radiation=radiation,
        structure_path=str(structure_path),
        reflections_path=str(refl_path if refl_path is not None else structure_path),
        reflection_format=fmt, n_records=n_records)


def _merge(path: Path, obs: Any, symmetry: Any) -> Any:
    """Merge measured F² to the unique, non-anomalous set of ``symmetry`` (cctbx)."""
    from cctbx.array_family import flex

    obs = obs.customized_copy(crystal_symmetry=symmetry, anomalous_flag=False)
    hkl = np.array(obs.indices()).reshape(-1, 3)
    keep = np.any(hkl != 0, axis=1)
    data = obs.data().as_numpy_array()
    keep &= np.isfinite(data)
    if obs.sigmas() is not None:
        s = obs.sigmas().as_numpy_array()
        # σ < 0 flags a rejected reflection in SHELX HKLF files (e.g. "-1.00 -1.00")
        keep &= np.isfinite(s) & (s >= 0)
    obs = obs.select(flex.bool(keep.tolist()))
    if obs.size() == 0:
        raise MeasuredDataError(path, "no measured reflections")
    if obs.sigmas() is not None:
        s = obs.sigmas().as_numpy_array()
        if np.any(s <= 0):
            # σ-weighted merging needs σ > 0: give σ ≤ 0 the smallest positive σ of the file
            floor = s[s > 0].min() if np.any(s > 0) else 1.0
            obs = obs.customized_copy(sigmas=flex.double(np.where(s > 0, s, floor)))
    obs = obs.map_to_asu().remove_systematic_absences()
    if obs.size() == 0:
        raise MeasuredDataError(path, "all reflections are systematic absences of "
                                      f"{symmetry.space_group_info()} (wrong space group?)")
    merged = obs.merge_equivalents().array()
    return merged.sort(by_value="packed_indices")


def _f_calc(path: Path, xs: Any, miller_set: Any, radiation: str) -> Any:
    """F_calc of the model on ``miller_set`` (cctbx direct summation)."""
    table = NEUTRON_TABLE if radiation == "neutron" else (
        "electron" if radiation == "electron" else XRAY_TABLE)
    try:
        xs = xs.deep_copy_scatterers()
        xs.scattering_type_registry(table=table)
        return miller_set.structure_factors_from_scatterers(
            xray_structure=xs, algorithm="direct").f_calc()
    except Exception as exc:
        raise MeasuredDataError(path, f"cannot compute F_calc with the {table} table "
                                      f"({exc})") from None


def find_data_sets(folder: str | Path) -> list[Path]:
    """Data sets in ``folder``: its sub-folders holding a CIF, and its top-level CIFs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MeasuredDataError(folder, "not a folder")
    found = []
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_dir() and any(item.glob("*.cif")):
            found.append(item)
        elif item.is_file() and item.suffix.lower() == ".cif":
            found.append(item)
    return found


def pearson_problem(data: MeasuredData, min_pearson: float | None) -> str | None:
    """Why ``data`` fails the ``min_pearson`` rule, or ``None`` when it passes (or no rule).

    A data set whose Pearson r(I_meas, I_calc) is below ``min_pearson`` cannot be the
    measurement of its model: intensities all zero, the reflections of another structure,
    permuted indices (r ≈ 0.05 for those).
    """
    if min_pearson is None:
        return None
    r = data.pearson_r
    if r >= min_pearson:
        return None
    return (f"model does not match the data: Pearson r(I_meas, I_calc) = {r:.3f} < "
            f"min_pearson = {min_pearson} (all intensities zero, another structure's "
            f"reflections or permuted indices?)")


def read_measured_folder(folder: str | Path, min_pearson: float | None = None,
                         progress: bool = False
                         ) -> tuple[list[MeasuredData], list[tuple[str, str]]]:
    """Read every data set in ``folder``; go on past bad ones.

    Returns (data sets read, skipped) where ``skipped`` lists (path, reason).  With
    ``min_pearson`` a data set whose Pearson r(I_meas, I_calc) is below it is skipped (the
    model does not match the data).  A folder with no data set at all raises
    :class:`MeasuredDataError`.
    """
    items = find_data_sets(folder)
    if not items:
        raise MeasuredDataError(folder, "empty folder: no data-set sub-folder or CIF file")
    if progress:
        from tqdm.auto import tqdm

        items_iter: Iterable[Path] = tqdm(items, desc="measured data sets")
    else:
        items_iter = items
    out: list[MeasuredData] = []
    skipped: list[tuple[str, str]] = []
    for item in items_iter:
        try:
            data = read_measured(item)
        except MeasuredDataError as exc:
            skipped.append((str(exc.path), exc.reason))
            continue
        except Exception as exc:  # an unforeseen failure of one file must not stop the batch
            skipped.append((str(item), f"{type(exc).__name__}: {exc}"))
            continue
        reason = pearson_problem(data, min_pearson)
        if reason:
            skipped.append((str(item), reason))
            continue
        out.append(data)
    return out, skipped


# ---------------------------------------------------------------------------------------------
# Data sets for the comparison of §3.1: real ones on an index set, or simulated ones
# ---------------------------------------------------------------------------------------------
