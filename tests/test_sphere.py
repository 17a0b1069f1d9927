"""The resolution-sphere stream (lib.phases.sphere): |E|, masks, origin fixing, triplets, loss."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases import evalues, losses, sphere
from lib.phases.generator import generate_batch
from lib.phases.reflections import origin_shift_parities, shift_origin
from lib.phases.structures import GeneratorParameters

PARAMS = GeneratorParameters(atoms_min=6, atoms_max=16)


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    return sphere.sphere_arrays(generate_batch(PARAMS, 7, 0, 6, stream=sphere.STREAM_SPHERE),
                                d_min=1.5)


def test_shell_e_values_equal_cctbx_normalize(arrays):
    """The vectorised shell normalisation gives cctbx's |E| (miller.array.normalize)."""
    for i in range(len(arrays["e"])):
        m = arrays["mask"][i]
        reference = evalues.e_values(np.where(m, arrays["amplitude"][i], np.nan),
                                     arrays["hkl"], arrays["cells"][i])
        assert np.allclose(arrays["e"][i][m], reference[m], atol=1e-4)
        assert np.all(arrays["e"][i][~m] == 0)
    # other shell sizes too, and ⟨|E|²⟩ = 1 in each structure (before clipping)
    e = evalues.shell_e_values(arrays["amplitude"], arrays["d_star_sq"], arrays["mask"], 37,
                              clip=None)
    for i in range(2):
        m = arrays["mask"][i]
        reference = evalues.e_values(np.where(m, arrays["amplitude"][i], np.nan),
                                     arrays["hkl"], arrays["cells"][i], 37, clip=None)
        assert np.allclose(e[i][m], reference[m], atol=1e-4)
        assert np.mean(e[i][m] ** 2) == pytest.approx(1.0, abs=1e-6)


def test_mask_is_the_resolution_sphere(arrays):
    spheres = evalues.reflections_by_resolution(arrays["cells"], 1.5)
    assert np.array_equal(spheres.mask, arrays["mask"])
    assert np.array_equal(spheres.hkl, arrays["hkl"])


def test_stream_is_seeded_and_origin_fixed_targets_are_consistent():
    a = sphere.SphereStream(PARAMS, 3, 4, 2, d_min=2.0, origin="fixed")
    b = sphere.SphereStream(PARAMS, 3, 4, 2, d_min=2.0, origin="fixed")
    (xa, ya), (xb, yb) = a[1], b[1]
    assert all(np.array_equal(xa[k], xb[k]) for k in xa) and np.array_equal(ya, yb)
    assert not np.array_equal(a[0][0]["e"], xa["e"])
    n = len(a.hkl)
    assert ya.shape == (4, 3 * n) and xa["cell"].shape == (4, 6)
    assert np.all(xa["origin"].sum(axis=1) == 3)
    target, mask = ya[:, :n], ya[:, n:2 * n]
    assert np.all(target[xa["origin"] > 0] == 1)               # origin-fixing reflections +
    assert np.array_equal(mask, xa["mask"]) and np.array_equal(ya[:, 2 * n:], xa["e"])
    raw = sphere.SphereStream(PARAMS, 3, 4, 2, d_min=2.0, origin="raw")[1][1]
    # fixed signs = raw signs at one of the 8 origins
    true = np.where(raw[:, :n] > 0, 1, -1)
    fixed = np.where(target > 0, 1, -1)
    for i in range(4):
        assert any(np.array_equal(shift_origin(true[i], a.hkl, p)[mask[i] > 0],
                                  fixed[i][mask[i] > 0]) for p in origin_shift_parities())


def test_triplets_are_sigma2_relations_and_mostly_positive():
    stream = sphere.SphereStream(PARAMS, 5, 4, 1, d_min=1.5, origin="raw", n_strong=80,
                                 max_edges=300)
    x, y = stream[0]
    n = len(stream.hkl)
    sign = np.where(y[:, :n] > 0, 1, -1)
    for b in range(4):
        strong, edges = x["strong"][b], x["edges"][b]
        assert np.all(np.diff(x["e"][b][strong[strong >= 0]]) <= 0)       # strongest first
        edges = edges[edges[:, 0] >= 0]
        h = stream.hkl[strong[edges]]                                     # (T, 3, 3)
        total = h[:, 1] + h[:, 2]
        difference = h[:, 1] - h[:, 2]
        ok = np.all((h[:, 0] == total) | (h[:, 0] == -total), axis=1) | \
            np.all((h[:, 0] == difference) | (h[:, 0] == -difference), axis=1)
        assert ok.all() and len(edges) > 50
        product = np.prod(sign[b][strong[edges]], axis=1)
        assert np.mean(product > 0) > 0.8                                # Σ2 holds
        assert x["symbols"].shape == (4, 4)
        assert not np.any(x["origin"][b][strong[x["symbols"][b]]])      # symbols ≠ origin set
        # ψ₀ pairs: two strong reflections whose sum or difference is one of the weakest
        pairs = x["weak_pairs"][b]
        pairs = pairs[pairs[:, 0] >= 0]
        present = np.flatnonzero(x["mask"][b])
        weakest = present[np.lexsort((present, x["e"][b][present]))][:200]
        hw = stream.hkl[weakest[pairs[:, 0]]]
        hj, hl = stream.hkl[strong[pairs[:, 1]]], stream.hkl[strong[pairs[:, 2]]]
        ok = np.all((hw == hj + hl) | (hw == -hj - hl), axis=1) | \
            np.all((hw == hj - hl) | (hw == hl - hj), axis=1)
        assert ok.all() and len(pairs) > 10


def _shifted(batch, parity):
    shifted = batch.take(slice(None))
    shifted.sites = np.where(batch.occupancy[..., None] > 0, batch.sites + 0.5 * parity, 0.0)
    return shifted


def test_origin_shift_leaves_inputs_and_fixed_targets_unchanged():
    batch = generate_batch(PARAMS, 11, 0, 4, stream=sphere.STREAM_SPHERE)
    parity = np.array([1, 0, 1])
    a = sphere.sphere_arrays(batch, 2.0)
    b = sphere.sphere_arrays(_shifted(batch, parity), 2.0)
    assert np.allclose(a["e"], b["e"], atol=1e-4)
    expected = shift_origin(a["sign"], a["hkl"], parity)
    strong = a["e"] > 0.3                                 # weak signs are at rounding level
    assert np.array_equal(expected[strong], b["sign"][strong])
    xa, ya = sphere.sphere_inputs_targets(a, "fixed")
    xb, yb = sphere.sphere_inputs_targets(b, "fixed")
    n = len(a["hkl"])
    assert np.array_equal(xa["origin"], xb["origin"])
    assert np.array_equal(ya[:, :n][strong], yb[:, :n][strong])


def test_sphere_loss_matches_numpy_and_ignores_masked_entries():
    import keras

    stream = sphere.SphereStream(PARAMS, 2, 3, 1, d_min=2.0, origin="raw")
    x, y = stream[0]
    n = len(stream.hkl)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, n)).astype(np.float32)
    mask = x["mask"] > 0
    sign = np.where(y[:, :n] > 0, 1, -1)
    prob = 1 / (1 + np.exp(-logits.astype(np.float64)))
    for invariant in (True, False):
        for e_weighted in (True, False):
            loss = sphere.sphere_sign_loss(stream.hkl, invariant, e_weighted)
            per = np.asarray(loss.call(keras.ops.convert_to_tensor(y),
                                       keras.ops.convert_to_tensor(logits)))
            w = mask * (x["e"] if e_weighted else 1.0)
            if invariant:
                reference = losses.origin_invariant_cross_entropy(prob, sign, stream.hkl, w)
            else:
                reference = losses.binary_cross_entropy(prob, sign, w)
            assert np.allclose(per, reference, rtol=1e-4, atol=1e-5)
            changed = np.where(mask, logits, logits + 5.0)               # masked entries only
            again = np.asarray(loss.call(keras.ops.convert_to_tensor(y),
                                         keras.ops.convert_to_tensor(changed)))
            assert np.allclose(per, again, atol=1e-6)
