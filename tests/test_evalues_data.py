"""|E| and d in the data sets, the resolution-sphere set, and the ``e_values`` model input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from lib import config
from lib.phases import build, checks, evalues, inputs, store, stream
from lib.phases.generator import generate_batch
from lib.phases.reflections import index_set
from lib.phases.simulate import MeasurementParameters
from lib.phases.structures import GeneratorParameters

GEN = GeneratorParameters(atoms_min=6, atoms_max=14)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evalues")
    calc = build.build_generated(root / "calculated.h5", "calculated", 20, seed=3, generator=GEN,
                                 chunk_size=8, progress=False)
    expt = build.build_generated(root / "experimental.h5", "experimental", 12, seed=3,
                                 generator=GEN, measurement=MeasurementParameters().as_dict(),
                                 chunk_size=8, progress=False)
    sphere = build.build_sphere(root / "calculated_sphere.h5", 10, seed=3, d_min=1.5,
                                generator=GEN, chunk_size=4)
    return {"calculated": calc.path, "experimental": expt.path, "sphere": sphere.path}


def test_stored_e_values_and_d_equal_cctbx(files):
    for path in files.values():
        rows = checks.compare_stored_e_values(path, range(4))
        assert all(r["ok"] for r in rows), rows
    with store.open_dataset(files["experimental"]) as f:
        intensity, e = f["intensity"][()], f["e_value"][()]
    assert np.array_equal(np.isnan(intensity), np.isnan(e))      # unmeasured stays NaN
    finite = e[np.isfinite(e)]
    assert 0 <= finite.min() and finite.max() <= evalues.E_CLIP


def test_the_e_value_check_can_fail(files, tmp_path: Path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(files["calculated"].read_bytes())
    with h5py.File(broken, "r+") as f:
        f["e_value"][1, 10] += 0.01
        f["d_spacing"][2, 5] *= 1.001
    rows = checks.compare_stored_e_values(broken, [0, 1, 2])
    assert [r["ok"] for r in rows] == [True, False, False]


def test_sphere_set_rows_are_the_calculated_rows_with_d_for_every_entry(files):
    s = store.load_sphere(files["sphere"])
    c = store.load_arrays(files["calculated"], ("cell", "source_id", "amplitude", "hkl"))
    assert np.array_equal(s["cell"], c["cell"][:10])
    assert list(s["source_id"]) == list(c["source_id"][:10])
    assert np.array_equal(s["hkl"], evalues.resolution_grid(1.5, GEN.cell_edge_max))
    assert np.all(np.isfinite(s["d_spacing"])) and s["d_spacing"].shape == s["mask"].shape
    assert np.array_equal(s["mask"], s["d_spacing"] >= 1.5 * (1 - 1e-6))
    # the same reflection has the same |F| in both layouts
    grid = {tuple(h): j for j, h in enumerate(s["hkl"])}
    pairs = [(i, grid[tuple(h)]) for i, h in enumerate(c["hkl"][:200]) if tuple(h) in grid]
    for row in range(3):
        inside = [(i, j) for i, j in pairs if s["mask"][row, j]]
        assert inside
        np.testing.assert_allclose([s["amplitude"][row, j] for _, j in inside],
                                   [c["amplitude"][row, i] for i, _ in inside], rtol=1e-5)
    assert np.all(s["e_value"][~s["mask"]] == 0) and np.all(s["sign"][~s["mask"]] == 1)


def test_sphere_set_is_reused_and_refuses_bad_requests(files, tmp_path: Path):
    again = build.build_sphere(files["sphere"], 10, seed=3, d_min=1.5, generator=GEN)
    assert again.reused
    with pytest.raises(ValueError, match="d_min"):
        build.build_sphere(tmp_path / "s.h5", 10, seed=3, d_min=0.0, generator=GEN)
    with pytest.raises(store.DatasetError, match="not a resolution-sphere set"):
        store.load_sphere(files["calculated"])
    with pytest.raises(store.DatasetError, match="holds 10 structures"):
        store.load_sphere(files["sphere"], n_structures=11)


def test_e_values_input_reads_the_stored_e_values(files):
    rows = inputs.RowRange(0, 12)
    b = inputs.ReflectionBatches(files["experimental"], rows, 709, 6, model_input="e_values")
    x, _ = b[0]
    with store.open_dataset(files["experimental"]) as f:
        e = f["e_value"][0:6, :709]
    np.testing.assert_array_equal(x, np.nan_to_num(e, nan=0.0))
    report = inputs.ReflectionBatches(files["experimental"], rows, 709, 6)
    assert report[0][0].max() == pytest.approx(1.0)          # I / I_max: the report's input
    auto = inputs.ReflectionBatches(files["calculated"], rows, 709, 6, target="intensity",
                                    model_input="e_values")
    x, y = auto[0]
    np.testing.assert_array_equal(x, y)                       # autoencoders reconstruct |E|
    with pytest.raises(ValueError, match="input must be one of"):
        inputs.ReflectionBatches(files["calculated"], rows, 709, 6, model_input="patterson")


def test_e_values_input_on_a_file_without_them_names_the_file(files, tmp_path: Path):
    old = tmp_path / "old.h5"
    old.write_bytes(files["calculated"].read_bytes())
    with h5py.File(old, "r+") as f:
        del f["e_value"]
    with pytest.raises(ValueError, match=r"old\.h5.*e_value.*rerun notebook 00_data"):
        inputs.ReflectionBatches(old, inputs.RowRange(0, 12), 709, 6, model_input="e_values")


def test_stream_e_values_are_normalised_over_the_whole_cube():
    batch = generate_batch(GEN, 5, 0, 4, stream=stream.STREAM_TRAINING)
    arrays = stream.stream_arrays(batch, index_set(709), e_values=True)
    full = stream.stream_arrays(batch, index_set(4630))
    reference = evalues.e_values_and_d(full["intensity"], batch.cells, index_set(4630))[0]
    np.testing.assert_allclose(arrays["e_value"], reference[:, :709], rtol=1e-6)
    s = stream.StructureStream(GEN, seed=5, batch_size=4, steps_per_epoch=1,
                               n_reflections=709, model_input="e_values")
    x, _ = s[0]
    assert x.shape == (4, 709) and np.all(x >= 0) and x.max() <= evalues.E_CLIP


def test_input_is_a_checked_parameter_of_notebooks_02_to_05():
    for notebook in ("02_experimental_vs_calculated", "03_weight_types", "04_layer_sizes",
                     "05_autoencoders"):
        assert config.profile_parameters(notebook, "default")["input"] == "intensity_max"
        with pytest.raises(ValueError, match="'input' must be one of"):
            config.notebook_config(notebook, "smoke", input="patterson")


def test_an_e_values_run_is_a_variant_that_overwrites_nothing(tmp_path: Path, monkeypatch):
    import matplotlib.pyplot as plt

    from lib import figures

    monkeypatch.setenv("PHASES_RUNS_DIR", str(tmp_path))
    report = config.notebook_config("03_weight_types", "smoke")
    variant = config.notebook_config("03_weight_types", "smoke", input="e_values")
    assert report.variant == "" and variant.variant == "_e_values"
    assert report.metrics_path.name == "03_weight_types.json"
    assert variant.metrics_path.name == "03_weight_types_e_values.json"
    assert variant.models_dir != report.models_dir
    fig = plt.figure()
    paths = figures.save_figure(fig, "fig15_weight_types_accuracy", "caption", variant)
    plt.close(fig)
    assert paths[0].name == "fig15_weight_types_accuracy_e_values.png"


def test_count_shells_equal_cctbx_and_avoid_one_reflection_shells():
    batch = generate_batch(GEN, 9, 0, 3, stream=0)
    hkl = index_set(4630)
    full = stream.stream_arrays(batch, hkl)
    amplitude = np.sqrt(full["intensity"])
    s2 = evalues.d_star_sq(batch.cells, hkl)
    mask = np.ones_like(amplitude, bool)
    mask[0, ::7] = False                                    # an incomplete data set
    for shells in evalues.SHELL_KINDS:
        twin = evalues.shell_e_values(amplitude, s2, mask, shells=shells)
        for row in range(3):
            reference = evalues.e_values(np.where(mask[row], amplitude[row], np.nan), hkl,
                                         batch.cells[row], shells=shells)
            np.testing.assert_allclose(twin[row][mask[row]], reference[mask[row]], atol=1e-9)
    # the cube's corners: equal-volume shells end with a handful of reflections (whose |E|
    # is then nearly fixed by the few of them), counting shells hold ~100 each
    volume, n_volume = evalues._volume_shells(s2, mask, evalues.REFLECTIONS_PER_SHELL)
    count, n_count = evalues._count_shells(s2, mask, evalues.REFLECTIONS_PER_SHELL)
    for row in range(3):
        assert np.bincount(volume[row][mask[row]]).min() <= 5
        assert np.bincount(count[row][mask[row]], minlength=n_count[row]).min() >= 50
    with pytest.raises(ValueError, match="shells"):
        evalues.shell_e_values(amplitude, s2, mask, shells="wilson")
