"""The 1D ConvNeXt (lib.xrd.networks): shapes, heads, size, Keras-only source, saving, and a
few training steps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lib.xrd import networks


def test_default_network_at_4500_points_is_small():
    model = networks.build_convnext1d(4500)
    assert set(model.output_names) == {"crystal_system", "space_group"}
    assert 0.3e6 < model.count_params() < 3e6
    out = model(np.random.default_rng(0).random((2, 4500), dtype=np.float32))
    assert out["crystal_system"].shape == (2, 7) and out["space_group"].shape == (2, 230)
    assert np.allclose(np.asarray(out["crystal_system"]).sum(axis=1), 1, atol=1e-5)


def test_options_gap_lattice_and_drop_path(tmp_path):
    import keras

    model = networks.build_convnext1d(600, heads=("crystal_system",), width=8, depths=(1, 2),
                                      drop_path=0.2, lattice_head=True, pool="gap")
    x = np.random.default_rng(1).random((3, 600), dtype=np.float32)
    out = model(x, training=True)
    assert out["lattice"].shape == (3, 6) and out["crystal_system"].shape == (3, 7)
    a = np.asarray(model(x, training=False)["crystal_system"])
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path, custom_objects=networks.custom_layers())
    assert np.allclose(np.asarray(again(x, training=False)["crystal_system"]), a, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="heads"):
        networks.build_convnext1d(600, heads=("lattice_only",))
    with pytest.raises(ValueError, match="width"):
        networks.build_convnext1d(600, width=(8, 16), depths=(1,))
    with pytest.raises(ValueError, match="pool"):
        networks.build_convnext1d(600, pool="max")


def test_keras_only():
    source = Path(networks.__file__).read_text()
    assert not re.search(r"\btf\.|import tensorflow|from tensorflow", source)


def test_learns_a_toy_task():
    """Two classes told apart by where a peak sits (needs the absolute position)."""
    import keras

    keras.utils.set_random_seed(0)
    n, length = 256, 400
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    centre = np.where(y == 0, rng.uniform(60, 140, n), rng.uniform(260, 340, n))
    grid = np.arange(length)
    x = np.exp(-0.5 * ((grid[None] - centre[:, None]) / 4) ** 2).astype(np.float32)
    model = networks.build_convnext1d(length, heads=("crystal_system",), width=8,
                                      depths=(1, 1), hidden=32, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss={"crystal_system": "sparse_categorical_crossentropy"},
                  metrics={"crystal_system": ["accuracy"]})
    hist = model.fit(x, {"crystal_system": y}, epochs=8, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.9 if "accuracy" in hist.history else \
        hist.history["crystal_system_accuracy"][-1] > 0.9
