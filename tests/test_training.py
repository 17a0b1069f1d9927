"""Input pipeline (streamed = in memory), run records on disk, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from lib.phases import inputs, training, verdicts  # noqa: E402
from lib.phases.store import DatasetError  # noqa: E402

from _fake_data import write_fake_dataset  # noqa: E402


@pytest.fixture(scope="module")
def fake_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 random P-1 structures with cctbx structure factors, in the contract's layout."""
    return write_fake_dataset(tmp_path_factory.mktemp("data") / "calculated.h5", 120, seed=3)


def _data(path: Path, n_structures: int | None = None, in_memory=True) -> training.DataSpec:
    return training.DataSpec(path, inputs.split_rows(120, n_structures, 0.2, 0.1),
                             in_memory=in_memory)


def test_split_rows_and_clipping():
    splits = inputs.split_rows(1000, 500, 0.1, 0.1)
    assert (splits["train"], splits["validation"], splits["test"]) == (
        inputs.RowRange(0, 450), inputs.RowRange(450, 500),
        inputs.RowRange(900, 1000))
    assert inputs.available_structures(1000, 0.1) == 900
    with pytest.raises(ValueError, match="at most 900"):
        inputs.split_rows(1000, 950, 0.1, 0.1)
    used, notes = inputs.clip_sizes([100, 5000, 20000], 900)
    assert used == [100, 900] and len(notes) == 2 and "20,000" in notes[1]


@pytest.mark.parametrize("weight_type", ["none", "intensity", "exp_intensity"])
def test_streamed_batches_equal_in_memory_batches(fake_set, weight_type):
    rows = inputs.RowRange(5, 100)
    kw = dict(n_reflections=709, batch_size=16, weight_type=weight_type, shuffle=True, seed=4)
    disk = inputs.ReflectionBatches(fake_set, rows, in_memory=False, **kw)
    memory = inputs.ReflectionBatches(fake_set, rows, in_memory=True, **kw)
    assert len(disk) == len(memory) == 6
    orders = []
    for _ in range(2):                                   # two epochs, reshuffled
        for i in range(len(disk)):
            (xd, yd), (xm, ym) = disk[i], memory[i]
            assert np.array_equal(xd, xm) and np.array_equal(yd, ym)
        orders.append([disk.block(i) for i in range(len(disk))])
        disk.on_epoch_end()
        memory.on_epoch_end()
    assert orders[0] != orders[1]
    # Every structure once per epoch; inputs normalised to a maximum of 1 per structure.
    xs = np.concatenate([disk[i][0] for i in range(len(disk))])
    assert xs.shape == (95, 709) and np.allclose(xs.max(axis=1), 1.0)
    disk.close()


def test_batch_multiple_cuts_the_partial_batch(fake_set):
    """batch_multiple (replicas of a distributed run): every Keras batch a multiple of it; the
    evaluation order still visits every structure."""
    kw = dict(n_reflections=709, batch_size=8, shuffle=True, seed=1)
    plain = inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 29), **kw)
    cut = inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 29), batch_multiple=4, **kw)
    assert len(plain) == len(cut) == 4
    assert sorted(len(cut[i][0]) for i in range(4)) == [4, 8, 8, 8]
    assert sum(len(x) for x, _ in cut.iter_unshuffled()) == 29
    short = inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 27), batch_multiple=4, **kw)
    assert len(short) == 3                              # a last batch of 3 < 4 is dropped
    with pytest.raises(ValueError, match="multiple"):
        inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 29), batch_multiple=3, **kw)


def test_autoencoder_batches_and_bad_input(fake_set, tmp_path):
    batches = inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 10), 4630, 4,
                                             target="intensity")
    x, y = batches[0]
    assert x.shape == (4, 4630) and np.array_equal(x, y)
    with pytest.raises(ValueError, match="outside"):
        inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 500), 709, 4)
    with pytest.raises(DatasetError, match="missing.h5"):
        inputs.ReflectionBatches(tmp_path / "missing.h5", inputs.RowRange(0, 5),
                                       709, 4)


def test_sign_run_writes_history_model_and_config(fake_set, tmp_path):
    import keras

    run = training.SignRun(name="tiny", n_reflections=709, depth=1, width=16, epochs=3,
                           batch_size=16, seed=1, weight_type="intensity",
                           origin_invariant=True)
    result = training.train_sign_model(run, _data(fake_set), tmp_path)
    out = tmp_path / "tiny"
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert list(history["structures_seen"]) == [86, 172, 258]   # the training split per epoch
    for col in ("loss", "accuracy", "origin_accuracy", "weighted_accuracy", "bce",
                "origin_invariant_bce"):
        assert col in history and f"val_{col}" in history
    assert (history["origin_accuracy"] >= history["accuracy"] - 1e-6).all()
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["weight_type"] == "intensity" and config["run"]["origin_invariant"]
    assert set(config["metrics"]) == {"train", "validation", "test"}
    assert config["chance"]["origin_accuracy"] > config["chance"]["accuracy"]
    assert config["data"]["sizes"] == {"train": 86, "validation": 22, "test": 12}
    model = keras.saving.load_model(out / "model.keras")
    x, _ = next(iter(inputs.ReflectionBatches(fake_set, inputs.RowRange(0, 4), 709,
                                                    4)))
    assert np.allclose(keras.ops.convert_to_numpy(model(x)),
                       keras.ops.convert_to_numpy(result.model(x)), atol=1e-6)
    assert not list(out.glob(".*tmp*"))          # no temporary left behind
    table = verdicts.results_table([result], columns=("width",))
    assert table.loc[0, "width"] == 16 and table.loc[0, "loss"] == "origin-invariant"


def _metrics_json(result: training.RunResult) -> str:
    record = verdicts.json_ready(result.record())
    record.pop("seconds")
    return json.dumps(record, sort_keys=True)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_same_seed_reproduces_the_metrics(fake_set, tmp_path, monkeypatch, graph):
    if graph:
        monkeypatch.setattr(training, "EAGER_MAX_STEPS", 0)
    run = training.SignRun(name="a", n_reflections=709, depth=2, width=32, dropout=0.1,
                           epochs=2, batch_size=16, seed=11)
    first = training.train_sign_model(run, _data(fake_set), tmp_path)
    run.name = "b"
    second = training.train_sign_model(run, _data(fake_set, in_memory=False), tmp_path)
    a = json.loads(_metrics_json(first))
    b = json.loads(_metrics_json(second))
    for split in ("train", "validation", "test"):
        for key, value in a["metrics"][split].items():
            assert round(value, 3) == round(b["metrics"][split][key], 3), (split, key)
    h1, h2 = first.history.drop(columns="seconds"), second.history.drop(columns="seconds")
    assert np.allclose(h1.to_numpy(), h2.to_numpy(), atol=5e-4)
    run.seed = 12
    run.name = "c"
    third = training.train_sign_model(run, _data(fake_set), tmp_path)
    assert third.history["loss"].iloc[-1] != first.history["loss"].iloc[-1]


def test_autoencoder_run(fake_set, tmp_path):
    run = training.AutoencoderRun(name="ae", bottleneck=8, n_reflections=4630, epochs=2,
                                  batch_size=16, seed=2)
    result = training.train_autoencoder(run, _data(fake_set), tmp_path)
    errors = result.extra["test_errors"]
    assert errors["per_reflection_mse"].shape == (4630,)
    assert np.isclose(errors["mse"], errors["per_reflection_mse"].mean())
    assert (tmp_path / "ae" / "model.keras").exists()
    assert list(pd.read_csv(tmp_path / "ae" / "history.csv").columns[:3]) == [
        "epoch", "loss", "val_loss"]
