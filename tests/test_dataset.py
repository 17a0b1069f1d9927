"""The HDF5 data-set builder: layout, provenance, reuse, Dask, atomic write and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from lib.phases import build, checks, generator, simulate, store
from lib.phases.reflections import index_set
from lib.phases.structure_factors import calculate
from lib.phases.structures import STREAM_EXPERIMENTAL, GeneratorParameters, generate_structure

from _fake_data import (hklf_with_intensities, measured_texts, synthetic_structure,
                        write_measured_set)

GEN = GeneratorParameters(atoms_min=6, atoms_max=14)


def _build(path, n=24, chunk_size=10, **kw):
    kw.setdefault("progress", False)
    return build.build_generated(path, "calculated", n, seed=7, generator=GEN,
                                   chunk_size=chunk_size, **kw)


@pytest.fixture(scope="module")
def calculated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ds") / "calculated.h5"
    result = _build(path)
    assert result.n_structures == 24 and not result.reused and result.computed_chunks == 3
    return path


def test_layout_follows_the_contract(calculated: Path):
    with store.open_dataset(calculated) as f:
        assert f.attrs["kind"] == "calculated"
        assert not f.attrs["simulated"]
        assert f.attrs["complete"]
        assert f.attrs["n_structures"] == 24
        assert f["hkl"].shape == (4630, 3) and f["hkl"].dtype == np.int32
        assert np.array_equal(f["hkl"][:], index_set(4630))
        for name, dtype in [("intensity", np.float32), ("intensity_calc", np.float32),
                            ("amplitude", np.float32), ("sign", np.int8)]:
            assert f[name].shape == (24, 4630), name
            assert f[name].dtype == dtype, name
        assert f["intensity"].chunks[0] == 10           # chunk rows = chunk_size
        assert f["cell"].shape == (24, 6) and f["cell"].dtype == np.float64
        assert f["source_id"].shape == (24,)
        prov = json.loads(f.attrs["provenance"])
    assert prov["parameters"]["seed"] == 7
    assert prov["parameters"]["generator"]["atoms_max"] == 14
    assert prov["packages"]["cctbx-base"] != "absent"
    assert prov["kind"] == "calculated"


def test_values_match_cctbx_for_each_structure(calculated: Path):
    """Rows built with the batched engine: their structures, made again from the source id and
    converted to cctbx, give cctbx's direct-summation F within 1e-5 of the strongest |F|."""
    data = store.load_arrays(calculated, ("intensity", "intensity_calc", "amplitude", "sign",
                                            "cell", "source_id", "n_atoms"))
    hkl = index_set(4630)
    for i in (0, 13, 23):
        assert data["source_id"][i] == f"engine:7:0:{i}"
        one = generator.structure_at(GEN, 7, 0, i)
        xs = generator.to_cctbx(one)
        assert xs.scatterers().size() == data["n_atoms"][i] == one.n_atoms[0]
        sf = calculate(xs, hkl)
        stored_f = data["sign"][i] * data["amplitude"][i].astype(float)
        f_max = np.abs(sf.f.real).max()
        assert np.max(np.abs(stored_f - sf.f.real)) <= 1e-5 * f_max
        strong = sf.amplitude > 1e-3 * sf.amplitude.max()
        assert np.array_equal(data["sign"][i][strong], sf.sign[strong])
        assert np.allclose(data["cell"][i], xs.unit_cell().parameters())
    assert np.array_equal(data["intensity"], data["intensity_calc"])
    assert np.allclose(data["amplitude"] ** 2, data["intensity"], rtol=1e-5)
    with store.open_dataset(calculated) as f:
        parameters = json.loads(f.attrs["provenance"])["parameters"]
    assert parameters["engine"] == "batched"
    assert parameters["generator_block"] == generator.GENERATOR_BLOCK


def test_the_independent_check_regenerates_engine_rows(calculated: Path):
    """lib.phases.checks makes engine-built structures again from their source id (with the
    recorded generator block) and its NumPy sum agrees with the stored F."""
    rows = checks.compare_stored_structure_factors(calculated, [0, 11, 23])
    assert [r["source_id"] for r in rows] == ["engine:7:0:0", "engine:7:0:11", "engine:7:0:23"]
    assert all(r["ok"] for r in rows), rows
    assert max(r["max_delta_f_rel"] for r in rows) < 1e-5


def test_rows_do_not_depend_on_chunk_size(tmp_path: Path):
    """Chunks of 5 and of 7 rows (cutting the generator's blocks of 4 differently) give
    identical rows, simulated measurements included."""
    meas = simulate.MeasurementParameters(completeness=0.9).as_dict()
    fields = ("intensity", "intensity_calc", "sign", "cell", "source_id", "n_atoms")
    for kind, extra in (("calculated", {}), ("experimental", {"measurement": meas})):
        a, b = (store.load_arrays(
            build.build_generated(tmp_path / f"{kind}_{size}.h5", kind, 17, seed=3,
                                  generator=GEN, chunk_size=size, generator_block=4,
                                  progress=False, **extra).path, fields)
            for size in (5, 7))
        for key in fields:
            assert np.array_equal(a[key], b[key], equal_nan=key != "source_id"), (kind, key)


def test_cctbx_engine_is_the_old_path_and_a_change_of_engine_rebuilds(tmp_path: Path):
    path = tmp_path / "calculated.h5"
    old = _build(path, n=6, chunk_size=4, engine="cctbx")
    assert not old.reused
    data = store.load_arrays(path, ("intensity", "sign", "source_id"))
    hkl = index_set(4630)
    for i in (0, 5):
        assert data["source_id"][i] == f"gen:7:0:{i}"
        sf = calculate(generate_structure(GEN, 7, i), hkl)
        assert np.allclose(data["intensity"][i], sf.intensity, rtol=1e-5,
                           atol=1e-6 * sf.intensity.max())
    with store.open_dataset(path) as f:
        parameters = json.loads(f.attrs["provenance"])["parameters"]
    assert parameters["engine"] == "cctbx" and parameters["generator_block"] is None
    assert _build(path, n=6, chunk_size=4, engine="cctbx").reused
    batched = _build(path, n=6, chunk_size=4)
    assert not batched.reused
    assert store.load_arrays(path, ("source_id",))["source_id"][0] == "engine:7:0:0"
    assert not _build(path, n=6, chunk_size=4, generator_block=3).reused
    with pytest.raises(ValueError, match="engine must be one of"):
        _build(path, n=6, engine="fast")
    with pytest.raises(ValueError, match="it1992"):
        _build(path, n=6, table="wk1995")


def test_load_arrays_slices_and_errors(calculated: Path, tmp_path: Path):
    small = store.load_arrays(calculated, n_reflections=709, n_structures=5)
    assert small["intensity"].shape == (5, 709) and small["sign"].shape == (5, 709)
    assert store.load_arrays(calculated, ("hkl",), n_reflections=709)["hkl"].shape == (709, 3)
    with pytest.raises(store.DatasetError, match="no field 'phase'"):
        store.load_arrays(calculated, ("phase",))
    with pytest.raises(store.DatasetError, match="holds 24 structures"):
        store.load_arrays(calculated, n_structures=25)
    missing = tmp_path / "nothing.h5"
    with pytest.raises(store.DatasetError, match="nothing.h5.*does not exist"):
        store.load_arrays(missing)
    # a truncated / interrupted file: no complete=True attribute
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.create_dataset("intensity", data=np.zeros((2, 4630), np.float32))
    with pytest.raises(store.DatasetError, match="broken.h5.*incomplete"):
        store.open_dataset(broken)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(store.DatasetError, match="junk.h5.*not a readable HDF5"):
        store.load_arrays(junk)


def test_dataset_path():
    path = store.dataset_path("smoke", "calculated")
    assert path.name == "calculated.h5" and path.parent.name == "data"
    with pytest.raises(ValueError, match="kind"):
        store.dataset_path("smoke", "measured")


def test_reuse_when_parameters_match_and_rebuild_when_they_differ(calculated: Path, tmp_path):
    again = _build(calculated)
    assert again.reused and again.n_structures == 24
    # another chunk size gives the same data (structures are seeded per index)
    other = tmp_path / "calculated.h5"
    _build(other, chunk_size=7)
    a = store.load_arrays(calculated, ("intensity", "sign"))
    b = store.load_arrays(other, ("intensity", "sign"))
    assert np.array_equal(a["intensity"], b["intensity"])
    assert np.array_equal(a["sign"], b["sign"])
    # changed parameters: rebuilt, in place
    changed = _build(other, chunk_size=7, n=12)
    assert not changed.reused and changed.n_structures == 12
    assert np.array_equal(store.load_arrays(other, ("intensity",))["intensity"],
                          a["intensity"][:12])


def test_parallel_dask_build_equals_in_process_build(calculated: Path, tmp_path: Path):
    path = tmp_path / "calculated.h5"
    result = _build(path, n_workers=2)
    assert result.n_structures == 24
    a = store.load_arrays(calculated, ("intensity", "sign", "source_id"))
    b = store.load_arrays(path, ("intensity", "sign", "source_id"))
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_simulated_experimental_set(tmp_path: Path):
    path = tmp_path / "experimental.h5"
    meas = simulate.MeasurementParameters(completeness=0.9).as_dict()
    result = build.build_generated(path, "experimental", 12, seed=7, generator=GEN,
                                     measurement=meas, chunk_size=5, progress=False)
    assert result.n_structures == 12
    data = store.load_arrays(path, ("intensity", "intensity_calc", "sign", "source_id"))
    with store.open_dataset(path) as f:
        assert f.attrs["kind"] == "experimental" and f.attrs["simulated"]
        assert not isinstance(f.get("intensity_calc", getlink=True), h5py.SoftLink)
    missing = np.isnan(data["intensity"])
    assert 0.05 < missing.mean() < 0.15
    assert not np.isnan(data["intensity_calc"]).any()
    assert data["source_id"][0] == f"engine:7:{STREAM_EXPERIMENTAL}:0"
    for i in range(12):   # measured ∝ calculated (scale, B, noise): strongly correlated
        ok = ~missing[i]
        assert np.corrcoef(data["intensity"][i][ok], data["intensity_calc"][i][ok])[0, 1] > 0.8
    with pytest.raises(ValueError, match="measurement"):
        build.build_generated(path, "experimental", 3, seed=1, progress=False)


# ---------------------------------------------------------------------------------------------
# Atomic write and resume
# ---------------------------------------------------------------------------------------------

_SLOW_BUILD = textwrap.dedent("""
    import sys, time
    from lib.phases import build, store
    from lib.phases.structures import GeneratorParameters

    original = build.compute_generated_chunk

    def slow(*args):
        out = original(*args)
        time.sleep(0.4)
        return out

    build.compute_generated_chunk = slow
    r = build.build_generated(sys.argv[1], "calculated", 60, seed=7,
                                generator=GeneratorParameters(atoms_min=6, atoms_max=14),
                                chunk_size=5, progress=False)
    print("REUSED" if r.reused else "BUILT")
""")


def test_resume_after_kill_9(tmp_path: Path, calculated: Path):
    path = tmp_path / "calculated.h5"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, str(path)],
                            cwd=Path(__file__).resolve().parent.parent)
    partial = build.partial_dir(path)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if len(list(partial.glob("chunk_*.npz"))) >= 3:
                break
            assert proc.poll() is None, "the build finished or failed before it was killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not path.exists()                      # nothing half-written under the real name
    with pytest.raises(store.DatasetError):
        store.open_dataset(path)
    done_before = len(list(partial.glob("chunk_*.npz")))
    assert done_before >= 3
    result = build.build_generated(path, "calculated", 60, seed=7, generator=GEN,
                                     chunk_size=5, progress=False)
    assert result.resumed_chunks == done_before
    assert result.computed_chunks == 12 - done_before
    assert not partial.exists()
    fresh = store.load_arrays(calculated, ("intensity", "sign"))
    resumed = store.load_arrays(path, ("intensity", "sign"), n_structures=24)
    assert np.array_equal(fresh["intensity"], resumed["intensity"])
    assert np.array_equal(fresh["sign"], resumed["sign"])


def test_stale_temporary_damaged_partial_and_truncated_target(tmp_path: Path):
    path = tmp_path / "calculated.h5"
    # a truncated target from some earlier crash, a stale temporary file of an interrupted
    # assembly, a damaged chunk and a partial folder of another request
    path.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    stale = tmp_path / ".calculated.abcd1234.tmp.h5"
    stale.write_bytes(b"half an HDF5 file")
    result = _build(path, n=10, chunk_size=5)
    assert result.n_structures == 10 and not stale.exists()
    # a partial folder left by another request, with a damaged chunk: wiped, not reused
    folder = build.partial_dir(path)
    folder.mkdir()
    (folder / "request.json").write_text(json.dumps({"key": "another request"}))
    (folder / "chunk_000000.npz").write_bytes(b"garbage")
    rebuilt = _build(path, n=10, chunk_size=5, force=True)
    assert rebuilt.resumed_chunks == 0 and rebuilt.n_structures == 10
    assert store.is_complete(path)


def _interrupted_build(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that dies (exception) in its third chunk, leaving two finished chunks."""
    original = build.compute_generated_chunk

    def dies_in_chunk_2(spec, chunk, start, stop):
        if chunk == 2:
            raise KeyboardInterrupt("simulated interruption")
        return original(spec, chunk, start, stop)

    monkeypatch.setattr(build, "compute_generated_chunk", dies_in_chunk_2)
    with pytest.raises(KeyboardInterrupt):
        _build(path, n=20, chunk_size=5)
    monkeypatch.setattr(build, "compute_generated_chunk", original)
    assert not path.exists()
    assert len(list(build.partial_dir(path).glob("chunk_*.npz"))) == 2


def test_interrupted_build_resumes_and_damaged_chunk_is_recomputed(
        tmp_path: Path, calculated: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "calculated.h5"
    _interrupted_build(path, monkeypatch)
    resumed = _build(path, n=20, chunk_size=5)
    assert resumed.resumed_chunks == 2 and resumed.computed_chunks == 2
    ref = store.load_arrays(calculated, ("intensity",), n_structures=20)["intensity"]
    assert np.array_equal(store.load_arrays(path, ("intensity",))["intensity"], ref)
    path.unlink()
    _interrupted_build(path, monkeypatch)
    (build.partial_dir(path) / "chunk_000001.npz").write_bytes(b"PK\x03\x04 damaged")
    again = _build(path, n=20, chunk_size=5)
    assert again.resumed_chunks == 1 and again.computed_chunks == 3
    assert np.array_equal(store.load_arrays(path, ("intensity",))["intensity"], ref)


def test_experimental_set_from_real_measured_data(shared_data: Path, tmp_path: Path):
    folder = shared_data / "experimental"
    if not folder.is_dir():
        pytest.skip("experimental folder is absent")
    link = tmp_path / "experimental_link"    # the folder reached through a symbolic link
    link.symlink_to(folder.resolve(), target_is_directory=True)
    path = tmp_path / "experimental.h5"
    result = build.build_experimental_from_measured(path, link, progress=False)
    assert result.n_structures >= 5
    assert any("inversion centre" in s.reason for s in result.skipped)
    data = store.load_arrays(path, ("intensity", "intensity_calc", "source_id"))
    with store.open_dataset(path) as f:
        assert not f.attrs["simulated"]
    for i in range(result.n_structures):
        ok = np.isfinite(data["intensity"][i])
        assert ok.sum() > 100
        r = np.corrcoef(data["intensity"][i][ok], data["intensity_calc"][i][ok])[0, 1]
        assert r > 0.9, data["source_id"][i]


def test_calculated_set_from_real_cifs(shared_data: Path, tmp_path: Path):
    folder = shared_data / "cod_structures" / "p-1"
    if not folder.is_dir():
        pytest.skip("cod_structures/p-1 is absent")
    path = tmp_path / "calculated.h5"
    result = build.build_calculated_from_cifs(path, folder, n_structures=6, chunk_size=4,
                                                progress=False)
    assert result.n_structures == 6
    data = store.load_arrays(path, ("intensity", "sign", "source_id"))
    assert all(s.endswith(".cif") for s in data["source_id"])
    assert set(np.unique(data["sign"])) == {-1, 1}
    again = build.build_calculated_from_cifs(path, folder, n_structures=6, chunk_size=4,
                                               progress=False)
    assert again.reused


def test_two_concurrent_builds_of_the_same_file(tmp_path: Path):
    """The second build waits for the first (file lock), then reuses its complete file."""
    path = tmp_path / "calculated.h5"
    procs = [subprocess.Popen([sys.executable, "-c", _SLOW_BUILD.replace("60", "10"),
                               str(path)], cwd=Path(__file__).resolve().parent.parent,
                              stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(outs) == ["BUILT", "REUSED"]
    assert store.is_complete(path) and not build.partial_dir(path).exists()
    assert store.load_arrays(path, ("intensity",))["intensity"].shape == (10, 4630)


def test_calculated_set_from_a_bad_cif_folder(tmp_path: Path):
    """Bad files are skipped with their reasons (read in the workers); empty folder → error."""
    import io

    folder = tmp_path / "cifs"
    folder.mkdir()
    for i in range(3):
        out = io.StringIO()
        generate_structure(GEN, 1, i).as_cif_simple(out=out)
        (folder / f"good_{i}.cif").write_text(out.getvalue())
        if i == 0:
            (folder / "bad_truncated.cif").write_text(out.getvalue()[:700])
    (folder / "bad_no_atoms.cif").write_text("data_x\n_cell_length_a 5\n")
    path = tmp_path / "calculated.h5"
    result = build.build_calculated_from_cifs(path, folder, chunk_size=2, progress=False)
    assert result.n_structures == 3
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == {"bad_truncated.cif", "bad_no_atoms.cif"}
    assert "no atoms" in reasons["bad_no_atoms.cif"]
    with h5py.File(path) as f:
        assert sorted(Path(p).name for p in f["skipped_path"].asstr()[()]) == \
            ["bad_no_atoms.cif", "bad_truncated.cif"]
    ids = store.load_arrays(path, ("source_id",))["source_id"]
    assert list(ids) == ["good_0.cif", "good_1.cif", "good_2.cif"]
    first_two = build.build_calculated_from_cifs(tmp_path / "two.h5", folder, n_structures=2,
                                                   chunk_size=2, progress=False)
    assert first_two.n_structures == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty"):
        build.build_calculated_from_cifs(tmp_path / "x.h5", empty, progress=False)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "junk.cif").write_text("this is not a CIF {")
    with pytest.raises(ValueError, match="junk.cif"):
        build.build_calculated_from_cifs(tmp_path / "y.h5", only_bad, progress=False)


def test_build_from_given_structures_with_simulated_measurement(tmp_path: Path):
    structures = [(f"s{i}", generate_structure(GEN, 3, i)) for i in range(4)]
    path = tmp_path / "experimental.h5"
    result = build.build_from_structures(path, "experimental", structures,
                                           source={"note": "test"}, seed=3,
                                           measurement=simulate.MeasurementParameters().as_dict(),
                                           chunk_size=3, progress=False)
    assert result.n_structures == 4
    data = store.load_arrays(path, ("intensity", "intensity_calc", "source_id"))
    assert list(data["source_id"]) == ["s0", "s1", "s2", "s3"]
    assert np.isnan(data["intensity"]).any() and not np.isnan(data["intensity_calc"]).any()
    with pytest.raises(ValueError, match="no structures"):
        build.build_from_structures(path, "calculated", [], source={})


# ---------------------------------------------------------------------------------------------
# Folders reached through symbolic links or relative paths; data sets that cannot be right
# ---------------------------------------------------------------------------------------------

#: Small real data sets copied from ../shared/data/experimental when present (centric, with
#: the inversion centre at the origin): a SHELX HKLF 4 pair and a COD reflection CIF pair.
REAL_SMALL = ("olex2rt_cod_2229150", "cod_2016452")


def _measured_folder(root: Path, shared: Path | None) -> tuple[Path, list[str]]:
    """A folder of good measured data sets: two synthetic ones (P2_1/c, centric), and copies
    of the small real ones of ``REAL_SMALL`` when the shared data are present."""
    import shutil

    texts = measured_texts(synthetic_structure(7))
    write_measured_set(root / "syn_hklf", {"structure.cif": texts["cif"],
                                           "reflections.hkl": texts["hklf"]})
    write_measured_set(root / "syn_cif", {"structure.cif": texts["cif"],
                                          "reflections.hkl": texts["refl_cif"]})
    names = ["syn_cif", "syn_hklf"]
    real = shared / "experimental" if shared is not None else None
    if real is not None and all((real / n).is_dir() for n in REAL_SMALL):
        for name in REAL_SMALL:
            shutil.copytree(real / name, root / name)
        names += list(REAL_SMALL)
    return root, sorted(names)


def _shared_or_none() -> Path | None:
    from lib import config

    return config.shared_data_dir()


def test_experimental_set_from_a_linked_or_relative_folder(tmp_path: Path, monkeypatch):
    """The builder works whether the folder is given directly, through a symbolic link or as
    a relative path; the provenance (names relative to the folder) is the same, so the file
    built one way is reused the others."""
    real, names = _measured_folder(tmp_path / "real", _shared_or_none())
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    path = tmp_path / "experimental.h5"
    first = build.build_experimental_from_measured(path, link, progress=False)
    assert first.n_structures == len(names) and first.skipped == []
    assert sorted(store.load_arrays(path, ("source_id",))["source_id"]) == names
    files = store.stored_parameters(path)["files"]
    assert all(not Path(f[0]).is_absolute() for f in files), files
    monkeypatch.chdir(tmp_path)
    for spelling in ("real", "link", Path("link"), "./real/../link", real):
        again = build.build_experimental_from_measured(path, spelling, progress=False)
        assert again.reused and again.n_structures == len(names), spelling
    relative = build.build_experimental_from_measured(tmp_path / "relative.h5", "real",
                                                      progress=False)
    assert relative.n_structures == len(names)


def test_calculated_set_from_a_linked_or_relative_folder(tmp_path: Path, monkeypatch):
    import io

    folder = tmp_path / "cifs"
    folder.mkdir()
    for i in range(2):
        out = io.StringIO()
        generate_structure(GEN, 1, i).as_cif_simple(out=out)
        (folder / f"s{i}.cif").write_text(out.getvalue())
    link = tmp_path / "cifs_link"
    link.symlink_to(folder, target_is_directory=True)
    path = tmp_path / "calculated.h5"
    first = build.build_calculated_from_cifs(path, link, chunk_size=1, progress=False)
    assert first.n_structures == 2
    monkeypatch.chdir(tmp_path)
    for spelling in ("cifs", "cifs_link", folder):
        assert build.build_calculated_from_cifs(path, spelling, chunk_size=1,
                                                progress=False).reused, spelling


def test_relative_name_and_fingerprint_ignore_how_the_folder_is_reached(tmp_path: Path,
                                                                        monkeypatch):
    folder = tmp_path / "data"
    (folder / "a").mkdir(parents=True)
    file = folder / "a" / "x.cif"
    file.write_text("data_x\n")
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for f, root in ((file, folder), (link / "a" / "x.cif", link), (file, link),
                    (link / "a" / "x.cif", folder), (Path("data/a/x.cif"), Path("data")),
                    (Path("link/a/x.cif"), folder), (file, Path("link"))):
        assert build.relative_name(f, root) == "a/x.cif", (f, root)
    assert build.relative_name(tmp_path / "elsewhere.cif", folder) == \
        str(tmp_path / "elsewhere.cif")
    reference = build.file_fingerprint([file], folder)
    assert build.file_fingerprint([link / "a" / "x.cif"], link) == reference
    assert build.file_fingerprint([Path("data/a/x.cif")], Path("link")) == reference


def test_experimental_set_skips_data_sets_that_cannot_be_right(tmp_path: Path):
    """All intensities zero, permuted intensities, another structure's reflections: skipped
    with the reason under ``min_pearson`` (the rule of 01_normalisation), the rest built."""
    shared = _shared_or_none()
    real, names = _measured_folder(tmp_path / "sets", shared)
    texts = measured_texts(synthetic_structure(7))
    rng = np.random.default_rng(1)
    other = measured_texts(synthetic_structure(99))     # another structure, another cell
    bad = {
        "bad_zero": hklf_with_intensities(texts["hklf"], lambda v: 0 * v),
        "bad_permuted": hklf_with_intensities(texts["hklf"], rng.permutation),
    }
    for name, hklf in bad.items():
        write_measured_set(real / name, {"structure.cif": texts["cif"],
                                         "reflections.hkl": hklf})
    # another structure's reflections (an HKLF file has no cell: read in the model's)
    foreign = other["hklf"]
    write_measured_set(real / "bad_foreign", {"structure.cif": texts["cif"],
                                              "reflections.hkl": foreign})
    expected_bad = {"bad_zero", "bad_permuted", "bad_foreign"}
    if "olex2rt_cod_2229150" in names:      # a real data set with its intensities permuted
        import shutil

        src = real / "olex2rt_cod_2229150"
        shutil.copytree(src, real / "bad_real_permuted")
        hkl = real / "bad_real_permuted" / "reflections.hkl"
        hkl.write_text(hklf_with_intensities(hkl.read_text(), rng.permutation))
        expected_bad.add("bad_real_permuted")
    path = tmp_path / "experimental.h5"
    result = build.build_experimental_from_measured(path, real, min_pearson=0.9,
                                                    progress=False)
    assert sorted(store.load_arrays(path, ("source_id",))["source_id"]) == names
    reasons = {Path(s.path).relative_to(real).parts[0]: s.reason for s in result.skipped}
    assert set(reasons) == expected_bad, reasons
    assert "no signal" in reasons["bad_zero"]
    for name in expected_bad - {"bad_zero"}:
        assert "Pearson r(I_meas, I_calc)" in reasons[name], (name, reasons[name])
    with h5py.File(path) as f:
        stored = {Path(p).relative_to(real).parts[0] for p in f["skipped_path"].asstr()[()]}
    assert stored == expected_bad
    assert store.stored_parameters(path)["min_pearson"] == 0.9
