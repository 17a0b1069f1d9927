"""The per-epoch training stream (lib.xrd.stream): labels as models.train takes them, seeded
batches, and Keras fitting from it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lib.xrd import simulate, variants
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid, crystal_system_of
from lib.xrd.simulate import MeasurementModel
from lib.xrd.stream import PatternStream, training_peaks

warnings.filterwarnings("ignore")

GRID = Grid(0.0, 90.0, 1500)


def structures():
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    zno = Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                    [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]])
    return [nacl, zno]


@pytest.fixture(scope="module")
def data():
    peak_batches, refls, cs, sg = [], [], [], []
    for i, s in enumerate(structures()):
        vb = variants.make_variants(s, 5, seed=i)
        pb = variants.batch_peaks(vb)
        peak_batches.append(pb)
        refls.append(simulate.reflection_table(vb, pb))
        cs += [CRYSTAL_SYSTEMS.index(crystal_system_of(vb.space_group))] * pb.n_patterns
        sg += [vb.space_group - 1] * pb.n_patterns
    labels = {"crystal_system": np.array(cs), "space_group": np.array(sg)}
    return peak_batches, refls, labels


def stream(data, seed=0, **kw):
    peak_batches, refls, labels = data
    return PatternStream(peak_batches, labels, MeasurementModel(), batch_size=4, seed=seed,
                         grid=GRID, reflections=refls, **kw)


def test_batches_and_labels(data):
    s = stream(data)
    assert len(s) == 3                                     # 10 rows in batches of 4
    x, y = s[0]
    assert x.shape == (4, GRID.n_points) and x.dtype == np.float32
    assert x.min() >= 0 and np.allclose(x.max(axis=1), 1.0)   # smooth_normalise
    assert set(y) == {"crystal_system", "space_group"}
    rows = s.order(0)[:4]
    assert np.array_equal(y["crystal_system"], data[2]["crystal_system"][rows])
    assert set(np.unique(data[2]["crystal_system"])) == {CRYSTAL_SYSTEMS.index("cubic"),
                                                          CRYSTAL_SYSTEMS.index("hexagonal")}
    x_last, _ = s[2]
    assert len(x_last) == 2


def test_same_seed_same_batches_new_epoch_new_patterns(data):
    a, b = stream(data, seed=5), stream(data, seed=5)
    for i in (2, 0, 1):                                    # any order of access
        xa, ya = a[i]
        xb, yb = b[i]
        assert np.array_equal(xa, xb)
        assert all(np.array_equal(ya[h], yb[h]) for h in ya)
    x0, _, rows0 = a.batch(0, 0)
    x1, _, rows1 = a.batch(1, 0)
    assert not np.array_equal(x0, x1)
    a.on_epoch_begin()
    assert a.epoch == 0 and np.array_equal(a[0][0], x0)
    a.on_epoch_begin()
    assert a.epoch == 1 and np.array_equal(a[0][0], x1)
    a.set_epoch(0)
    assert np.array_equal(a[0][0], x0)
    other = stream(data, seed=6)
    assert not np.array_equal(other[0][0], stream(data, seed=5)[0][0])


def test_preprocess_and_sample_weights(data):
    w = {"crystal_system": np.linspace(0.5, 1.5, 10)}
    s = stream(data, preprocess=None, sample_weights=w)
    x, y, sw = s[1]
    rows = s.order(0)[4:8]
    assert np.allclose(sw["crystal_system"], w["crystal_system"][rows])
    assert not np.allclose(x.max(axis=1), 1.0)             # raw counts / N, not rescaled


def test_training_peaks_from_variant_batches(data):
    vbs = [variants.make_variants(s, 5, seed=i) for i, s in enumerate(structures())]
    peaks, labels = training_peaks(vbs)
    peak_batches, _, expected = data
    assert peaks.n_rows == 10 and peaks.refl_starts is not None
    assert all(np.array_equal(labels[h], expected[h]) for h in expected)
    assert np.allclose(peaks.two_theta, np.concatenate([p.two_theta for p in peak_batches]))
    s = PatternStream(peaks, labels, batch_size=4, grid=GRID)
    assert s[0][0].shape == (4, GRID.n_points)


def test_bad_labels_are_named(data):
    peak_batches, refls, labels = data
    with pytest.raises(ValueError, match="space_group"):
        PatternStream(peak_batches, {"space_group": labels["space_group"][:3]}, grid=GRID)


def test_keras_fit_from_the_stream(data):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((GRID.n_points,))
    h = keras.layers.Reshape((GRID.n_points, 1))(inp)
    h = keras.layers.Conv1D(4, 9, strides=8, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inp, {"crystal_system": keras.layers.Dense(7, activation="softmax",
                                                                  name="crystal_system")(h),
                              "space_group": keras.layers.Dense(230, activation="softmax",
                                                               name="space_group")(h)})
    model.compile(optimizer="adam",
                  loss={"crystal_system": "sparse_categorical_crossentropy",
                        "space_group": "sparse_categorical_crossentropy"})
    s = stream(data)
    hist = model.fit(s, epochs=1, steps_per_epoch=2, verbose=0)       # 2 steps
    assert np.all(np.isfinite(hist.history["loss"]))
    s = stream(data)
    hist = model.fit(s, epochs=2, verbose=0)                            # whole epochs
    assert len(hist.history["loss"]) == 2
    assert s.epoch == 1                                # epochs 0 and 1 were drawn



def test_epoch_first_gives_the_same_batches(data):
    plain, first = stream(data, seed=3), stream(data, seed=3, epoch_first=True)
    for _ in range(2):                                 # epochs 0 and 1, as Keras begins them
        plain.on_epoch_begin()
        first.on_epoch_begin()
        assert first.draw_epoch(first.epoch).shape == (10, GRID.n_points)
        for i in (2, 0, 1):                            # Keras shuffles the batches
            (x1, y1), (x2, y2) = plain[i], first[i]
            assert np.array_equal(x1, x2)
            assert all(np.array_equal(y1[h], y2[h]) for h in y1)
    first.set_epoch(0)                                 # not drawn: drawn batch by batch
    plain.set_epoch(0)
    assert np.array_equal(first[1][0], plain[1][0])
    with pytest.raises(IndexError):
        stream(data, epoch_first=True)[3]
