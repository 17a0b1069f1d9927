"""The training stream of never-seen structures (lib.phases.stream)."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases import engine, generator, losses
from lib.phases.inputs import normalised_intensity
from lib.phases.reflections import index_set
from lib.phases.stream import StructureStream
from lib.phases.structures import GeneratorParameters

PARAMS = GeneratorParameters(atoms_min=6, atoms_max=16)


def test_same_seed_same_batches_new_epoch_new_structures():
    a = StructureStream(PARAMS, seed=4, batch_size=8, steps_per_epoch=3, n_reflections=709)
    b = StructureStream(PARAMS, seed=4, batch_size=8, steps_per_epoch=3, n_reflections=709)
    x1, y1 = a[1]
    x2, y2 = b[1]
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(a[0][0], x1)
    a.on_epoch_end()
    assert not np.array_equal(a[1][0], x1)               # never-seen structures
    a.set_epoch(0)
    assert np.array_equal(a[1][0], x1)
    other = StructureStream(PARAMS, seed=5, batch_size=8, steps_per_epoch=3, n_reflections=709)
    assert not np.array_equal(other[1][0], x1)


def test_inputs_and_targets_are_those_of_the_data_sets():
    stream = StructureStream(PARAMS, seed=2, batch_size=6, steps_per_epoch=2, n_reflections=709,
                             weight_type="intensity")
    x, y = stream[0]
    assert x.shape == (6, 709) and y.shape == (6, 2 * 709)
    assert x.dtype == np.float32 and np.allclose(x.max(axis=1), 1.0)
    structures = generator.generate_batch(PARAMS, 2, stream.batch_number(0), 6,
                                          stream=stream.stream)
    sf = engine.structure_factors_batch(structures, index_set(709))
    expected_x = normalised_intensity(sf.intensity)
    assert np.allclose(x, expected_x)
    assert np.array_equal(y, losses.pack_targets(sf.sign, losses.reflection_weights(
        expected_x, "intensity")))
    auto = StructureStream(PARAMS, seed=2, batch_size=6, steps_per_epoch=2, n_reflections=709,
                           target="intensity")
    xa, ya = auto[0]
    assert np.array_equal(xa, ya) and np.allclose(xa, x)
    with pytest.raises(IndexError):
        stream[2]
    with pytest.raises(ValueError, match="target"):
        StructureStream(PARAMS, seed=2, batch_size=6, steps_per_epoch=2, target="phase")


def test_model_fit_from_the_stream():
    import keras

    from lib.phases.models import build_sign_mlp

    keras.utils.set_random_seed(0)
    stream = StructureStream(PARAMS, seed=3, batch_size=4, steps_per_epoch=2, n_reflections=709)
    model = build_sign_mlp(709, depth=1, width=16)
    model.compile(optimizer="adam", loss=losses.make_sign_loss())
    history = model.fit(stream, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])


def test_epoch_structures_per_epoch_and_evaluation_order():
    stream = StructureStream(PARAMS, seed=6, batch_size=4, steps_per_epoch=3, n_reflections=709)
    assert stream.structures_per_epoch == 12 and stream.epoch == 0
    stream.on_epoch_end()
    assert stream.epoch == 1 and stream.batch_number(2) == 5
    batches = list(stream.iter_unshuffled())            # the current epoch's, in order
    assert len(batches) == 3
    for i, (x, y) in enumerate(batches):
        assert np.array_equal(x, stream[i][0]) and np.array_equal(y, stream[i][1])
    stream.close()                                      # nothing to release
