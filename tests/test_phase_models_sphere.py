"""Sign models on the resolution sphere (lib.phases.phase_models): build, train, origin handling."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases import phase_models as pm
from lib.phases import sphere
from lib.phases.generator import generate_batch
from lib.phases.structures import GeneratorParameters

PARAMS = GeneratorParameters(atoms_min=6, atoms_max=16)
D_MIN = 2.0
K, T, S = 48, 512, 2


@pytest.fixture(scope="module")
def batches():
    """Two batches of 4 smoke structures (d_min 2 Å) and the same structures with the origin
    moved by p/2 = (½, 0, ½)."""
    batch = generate_batch(PARAMS, 21, 0, 4, stream=sphere.STREAM_SPHERE)
    moved = batch.take(slice(None))
    moved.sites = np.where(batch.occupancy[..., None] > 0,
                           batch.sites + 0.5 * np.array([1, 0, 1]), 0.0)
    other = generate_batch(PARAMS, 21, 1, 4, stream=sphere.STREAM_SPHERE)
    return [sphere.sphere_arrays(b, D_MIN) for b in (batch, moved, other)]


def _fit(model, hkl, data, origin_invariant):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=sphere.sphere_sign_loss(hkl, origin_invariant))
    before = [np.array(w) for w in model.trainable_weights]
    losses = [float(model.train_on_batch(x, y)) for x, y in data]
    assert np.all(np.isfinite(losses))
    changed = [not np.allclose(a, np.array(b)) for a, b in zip(before, model.trainable_weights)]
    assert sum(changed) >= len(changed) // 2
    return losses


def _data(batches, origin, triplets=False):
    return [sphere.sphere_inputs_targets(batches[2], origin, K if triplets else None, T, None,
                                         S)]


def _same_loss_when_origin_moves(model, batches, triplets=False):
    """Origin-invariant loss on raw signs: the same for the structures and their shifted copies
    (same |E| in, signs shifted); plain loss on origin-fixed signs: the same too."""
    import keras

    hkl = batches[0]["hkl"]
    for origin, invariant in (("raw", True), ("fixed", False)):
        (xa, ya), (xb, yb) = (sphere.sphere_inputs_targets(a, origin, K if triplets else None,
                                                           T, None, S)
                              for a in batches[:2])
        for key in ("e", "mask", "origin", "cell"):       # (edge order may differ at ties)
            assert np.allclose(xa[key], xb[key], atol=1e-3), key
        loss = sphere.sphere_sign_loss(hkl, invariant)
        za = model.predict_on_batch(xa)
        zb = model.predict_on_batch(xb)
        # |E| agree to ~1e-6 and the triplet edges may swap order at ties: float32 sums differ
        assert np.allclose(za, zb, atol=5e-3)
        la = np.asarray(loss.call(keras.ops.convert_to_tensor(ya), keras.ops.convert_to_tensor(za)))
        lb = np.asarray(loss.call(keras.ops.convert_to_tensor(yb), keras.ops.convert_to_tensor(zb)))
        assert np.allclose(la, lb, atol=2e-3)
        if origin == "raw":                        # the plain loss sees the origin move
            n = len(hkl)
            assert not np.array_equal(ya[:, :n], yb[:, :n])


def test_voxel_positions_fill_both_friedel_halves(batches):
    hkl = batches[0]["hkl"]
    source, plus, minus, size = pm.voxel_positions(hkl)
    assert size == 2 * int(np.abs(hkl).max()) + 1 and len(source) == size ** 3
    assert np.array_equal(source[plus], np.arange(len(hkl)))
    assert np.array_equal(source[minus], np.arange(len(hkl)))
    assert np.sum(source == len(hkl)) == 1                              # only (0, 0, 0)


def test_sphere_mlp_trains_and_is_origin_consistent(batches):
    hkl = batches[0]["hkl"]
    model = pm.build_sphere_mlp(hkl, depth=1, width=32)
    _fit(model, hkl, _data(batches, "fixed"), origin_invariant=False)
    _same_loss_when_origin_moves(model, batches)


def test_phai_model_trains_and_is_origin_consistent(batches):
    hkl = batches[0]["hkl"]
    model = pm.build_phai_model(hkl, channels=(4, 8, 8), recycles=2, mixer_hidden=16)
    x, _ = _data(batches, "raw")[0]
    z = model.predict_on_batch(x)
    assert z.shape == x["e"].shape and np.all(z[x["mask"] == 0] == 0)
    _fit(model, hkl, _data(batches, "raw"), origin_invariant=True)
    _same_loss_when_origin_moves(model, batches)


def test_triplet_model_trains_and_is_origin_consistent(batches):
    hkl = batches[0]["hkl"]
    model = pm.build_triplet_model(hkl, K, n_symbols=S, iterations=3, hidden=8)
    data = _data(batches, "fixed", triplets=True)
    z = model.predict_on_batch(data[0][0])
    strong = data[0][0]["strong"]
    off = np.ones(z.shape, bool)
    for b in range(len(z)):
        off[b, strong[b][strong[b] >= 0]] = False
    assert np.all(z[off] == 0)                          # no opinion outside the strong set
    _fit(model, hkl, data, origin_invariant=False)
    _same_loss_when_origin_moves(model, batches, triplets=True)
