"""What closes the gap between simulated training patterns and measured scans: the scan range
of training patterns, measured-like scans smoothed as classify smooths files, COD structures
as extra training parents (lib.xrd.augment, lib.xrd.classify, lib.xrd.dataset)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lib.xrd import augment, classify, dataset
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid

warnings.filterwarnings("ignore")


def test_scan_range_zeroes_what_the_scan_did_not_record():
    grid = Grid(0, 90, 901)
    x = np.ones((50, grid.n_points), np.float32)
    out = augment.scan_range(x, grid, (5.0, 15.0), np.random.default_rng(0))
    first = grid.two_theta[(out > 0).argmax(axis=1)]
    assert np.all((first >= 5.0) & (first <= 15.0 + grid.step))
    assert first.std() > 1.0                                   # drawn per pattern
    assert np.all(out[:, -1] == 1) and np.all(x == 1)          # the end kept, input untouched
    both = augment.scan_range(x, grid, (5.0, 5.0), np.random.default_rng(0), end=(60.0, 70.0))
    last = grid.two_theta[grid.n_points - 1 - (both[:, ::-1] > 0).argmax(axis=1)]
    assert np.all((last >= 60.0 - grid.step) & (last <= 70.0))
    assert np.all(both[:, grid.two_theta < 5.0] == 0)
    with pytest.raises(ValueError, match="start"):
        augment.scan_range(x, grid, (15.0, 5.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="end"):
        augment.scan_range(x, grid, (5.0, 15.0), np.random.default_rng(0), end=(10.0, 20.0))


def test_smooth_scans_equals_the_smoothing_of_a_measured_file():
    """A simulated scan (zero outside its range) smoothed by smooth_scans is the vector that
    to_model_input makes of the same scan read from a file on the grid."""
    grid = Grid(0, 90, 4500)
    rng = np.random.default_rng(3)
    inside = (grid.two_theta >= 7.0) & (grid.two_theta <= 80.0)
    scan = np.zeros(grid.n_points)
    scan[inside] = rng.poisson(50, inside.sum()) + 400 * np.exp(
        -0.5 * ((grid.two_theta[inside] - 30) / 0.08) ** 2)
    scan[inside] -= scan[inside].min()
    scan[inside] += 1e-3              # the measured file's minimum point stays in range
    smoothed = classify.smooth_scans(scan[None], 5.0)[0]
    from_file, kind = classify.to_model_input(grid.two_theta[inside], scan[inside], grid, 5.0,
                                              "profile", background="snip")
    assert kind == "profile"
    np.testing.assert_allclose(classify.preprocess(smoothed, grid, "snip"), from_file,
                               atol=2e-3)
    assert np.all(smoothed[~inside] == 0)
    # the noise is smoothed: point-to-point differences fall several-fold
    assert np.abs(np.diff(smoothed[inside])).mean() < np.abs(np.diff(scan[inside])).mean() / 3
    np.testing.assert_array_equal(classify.smooth_scans(scan, 0.0), scan.astype(np.float32))
    assert classify.smooth_scans(scan, 5.0).shape == scan.shape


def _write_cifs(folder):
    from pymatgen.core import Lattice, Structure

    folder.mkdir()
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    rutile = Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                       [[0, 0, 0], [0.5, 0.5, 0.5], [0.3048, 0.3048, 0], [-0.3048, -0.3048, 0],
                        [0.8048, 0.1952, 0.5], [0.1952, 0.8048, 0.5]])
    (folder / "9000001.cif").write_text(nacl.to(fmt="cif"))
    (folder / "9000001__copy.cif").write_text("a second file of the same entry")
    sub = folder / "other"
    sub.mkdir()
    (sub / "9000002.cif").write_text(rutile.to(fmt="cif"))
    (sub / "9000003.cif").write_text("data_broken\n_cell_length_a 3\n")


def test_cod_dataset_reads_labels_skips_bad_files_and_caches(tmp_path):
    cod = tmp_path / "cod"
    _write_cifs(cod)
    assert [p.name for p in dataset.cod_files(cod)] == ["9000001.cif", "9000002.cif",
                                                        "9000003.cif"]
    grid = Grid(0, 90, 900)
    data = dataset.cod_dataset(cod, tmp_path / "data", grid, progress=False)
    assert list(data.structure_id) == ["cod-9000001", "cod-9000002"]
    assert [CRYSTAL_SYSTEMS[c] for c in data.crystal_system] == ["cubic", "tetragonal"]
    assert list(data.space_group) == [225, 136] and list(data.formula) == ["NaCl", "TiO2"]
    assert [f["id"] for f in data.failures] == ["cod-9000003"]
    assert data.patterns.shape == (2, 900)
    again = dataset.cod_dataset(cod, tmp_path / "data", grid, progress=False)
    assert again.path == data.path                               # cached
    small = dataset.cod_dataset(cod, tmp_path / "data", grid, max_atoms=7, progress=False)
    assert list(small.structure_id) == ["cod-9000002"]      # NaCl's cell has 8 atoms, rutile 6
    assert any("more than 7" in f["reason"] for f in small.failures)
    with pytest.raises(ValueError, match="no .cif"):
        dataset.cod_dataset(tmp_path / "data", tmp_path / "data", grid, progress=False)


def test_concatenated_parents_get_variants_from_both_files(tmp_path):
    cod = tmp_path / "cod"
    _write_cifs(cod)
    grid = Grid(0, 90, 900)
    real = dataset.cod_dataset(cod, tmp_path / "data", grid, progress=False)
    synth = dataset.synthetic_dataset(tmp_path / "data", 1, seed=5, grid=grid, n_workers=1,
                                      progress=False).subset(np.arange(2))
    both = dataset.concatenate([synth, real])
    assert len(both) == 4 and both.path is None
    assert both.cif_sources == [synth.path, real.path]
    assert list(both.structure_id[2:]) == list(real.structure_id)
    sub = both.subset(np.array([3, 0]))
    assert sub.cif_sources == both.cif_sources
    vs = dataset.variant_set(sub, 2, seed=1, grid=grid, progress=False)
    assert not vs.failures and len(vs) == 4
    assert list(vs.space_group[vs.parent == 0]) == [136, 136]
    with pytest.raises(ValueError, match="grid"):
        dataset.concatenate([synth, dataset.cod_dataset(cod, tmp_path / "data",
                                                        Grid(0, 90, 450), progress=False)])


def test_scan_inputs_of_simulated_measurements_look_like_measured_files():
    """Simulated measurements through scan_inputs: smoothed then preprocessed, on [0, 1], zero
    outside the scan, the same as smooth_scans + preprocess row by row, and with about as
    many peaks as the smoothed (not the raw) scan."""
    from scipy.signal import find_peaks

    from lib.xrd.simulate import MeasurementModel, PeakSet, simulate

    grid = Grid(0, 90, 4500)
    tt = np.linspace(12, 85, 25)
    peaks = PeakSet.from_lists([tt, tt + 0.5], [np.full(25, 50.0), np.full(25, 80.0)])
    raw = simulate(peaks, np.array([0, 1, 0]), MeasurementModel(counts=(50.0, 50.0)), grid,
                   np.random.default_rng(1))
    x = classify.scan_inputs(raw, grid, 5.0, "snip", chunk=2)
    assert x.shape == raw.shape and x.dtype == np.float32
    np.testing.assert_allclose(x.max(axis=1), 1.0, rtol=1e-6)
    assert np.all(x[raw == 0] == 0) or np.all(x[:, grid.two_theta < 5.0] == 0)
    for row in range(3):
        np.testing.assert_allclose(
            x[row], classify.preprocess(classify.smooth_scans(raw[row], 5.0), grid, "snip"),
            atol=1e-6)
    n_smooth = len(find_peaks(x[0], prominence=0.05)[0])
    n_raw = len(find_peaks(classify.preprocess(raw[0], grid, "snip"), prominence=0.05)[0])
    assert n_smooth < n_raw and n_smooth <= 40                # 25 peaks (+ Kα2, impurity)


def test_degree_range_parses_and_checks():
    assert augment.degree_range("5,15") == (5.0, 15.0)
    assert augment.degree_range((5, 5)) == (5.0, 5.0)
    for bad in ("5", "a,b", "15,5", "-1,5", "5,200"):
        with pytest.raises(ValueError, match="scan_start"):
            augment.degree_range(bad, "scan_start")


def test_prior_correction_follows_bayes_and_needs_positive_frequencies():
    from lib.xrd import calibration

    freq = calibration.class_frequencies(np.array([1, 1, 1, 2]), 4)
    np.testing.assert_allclose(freq, [1 / 8, 4 / 8, 2 / 8, 1 / 8])
    p = np.array([[0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(calibration.prior_corrected(p, np.full(4, 0.25)), p)
    q = calibration.prior_corrected(p, freq)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    np.testing.assert_allclose(q[1], freq)                     # no evidence: the prior
    assert q[0].argmax() == 1                                  # 0.3 · 4/8 beats 0.4 · 1/8
    # a model trained on skewed classes: dividing by its training prior undoes the skew
    np.testing.assert_allclose(calibration.prior_corrected(p, freq, train_prior=freq), p)
    # label shift: classes x ~ N(μ_c, 1) drawn with prior π; the posterior under a uniform
    # prior, corrected with π, is the Bayes posterior: right more often than uncorrected
    rng = np.random.default_rng(0)
    pi, mu = np.array([0.6, 0.2, 0.1, 0.1]), np.array([0.0, 0.7, 1.4, 2.1])
    y = rng.choice(4, 4000, p=pi)
    x = rng.normal(mu[y], 1.0)
    post = calibration.softmax(-0.5 * (x[:, None] - mu[None, :]) ** 2)
    assert (calibration.prior_corrected(post, pi).argmax(1) == y).mean() > \
        (post.argmax(1) == y).mean() + 0.1
    with pytest.raises(ValueError, match="positive"):
        calibration.prior_corrected(p, np.array([0.5, 0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="4 class"):
        calibration.prior_corrected(p, np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="0..3"):
        calibration.class_frequencies(np.array([4]), 4)


def test_training_keeps_the_last_or_the_best_epoch():
    """keep="last": the weights after the last epoch (best_epoch = epochs run); "best": the
    epoch with the best validation accuracy; anything else is refused."""
    from lib.xrd import models

    rng = np.random.default_rng(0)
    x = rng.random((64, 900)).astype(np.float32)
    y = {"crystal_system": rng.integers(0, 7, 64), "space_group": rng.integers(0, 230, 64)}
    for keep in ("last", "best"):
        model = models.build_cnn1d(900, filters=4, dense=(8,), dropout=0.0)
        res = models.train(model, x, y, x[:16], {k: v[:16] for k, v in y.items()}, 3, 16,
                           1e-3, seed=0, verbose=0, keep=keep)
        acc = res.history["val_crystal_system_accuracy"]
        assert res.epochs_run == 3
        assert res.best_epoch == (3 if keep == "last" else int(np.argmax(acc)) + 1)
    with pytest.raises(ValueError, match="keep"):
        models.train(model, x, y, x[:16], {k: v[:16] for k, v in y.items()}, 1, 16, seed=0,
                     verbose=0, keep="worst")
