"""Training over several devices (MirroredStrategy, here with the CPU as its one replica), training
from the stream of never-seen structures, and data sets built on an existing Dask cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from lib.phases import build, inputs, store, training  # noqa: E402
from lib.phases.structures import GeneratorParameters  # noqa: E402

from _fake_data import write_fake_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GEN = GeneratorParameters(atoms_min=6, atoms_max=14)
N_SET = 40
tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="MirroredStrategy needs the TensorFlow backend")


def _build(path: Path, **kw) -> build.BuildResult:
    kw.setdefault("progress", False)
    return build.build_generated(path, "calculated", N_SET, seed=5, generator=GEN,
                                 chunk_size=16, **kw)


@pytest.fixture(scope="module")
def generated_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 generated random P-1 structures (6–14 atoms), built in this process."""
    path = tmp_path_factory.mktemp("data") / "calculated.h5"
    assert _build(path).n_structures == N_SET
    return path


def _data(path: Path) -> training.DataSpec:
    return training.DataSpec(path, inputs.split_rows(N_SET, None, 0.2, 0.1), in_memory=True)


def _weights(result: training.RunResult) -> list[np.ndarray]:
    return [np.asarray(w) for w in result.model.get_weights()]


def test_distribution_option_is_checked(monkeypatch):
    with pytest.raises(ValueError, match="distribution"):
        training.check_distribution("everywhere")
    assert training.distribution_strategy("none") is None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_physical_devices("GPU")) < 2:
            assert training.distribution_strategy("auto") is None
    # Under another backend (JAX, PyTorch: not installed here): "auto" is one device and
    # "mirrored" a clear error, before any TensorFlow import.
    monkeypatch.setattr(training, "backend_name", lambda: "jax")
    assert training.distribution_strategy("auto") is None
    with pytest.raises(ValueError, match="TensorFlow backend"):
        training.distribution_strategy("mirrored")
    assert training.replicas_of(None, 7) == 1          # one replica: any batch size


@tensorflow_only
@pytest.mark.parametrize("train_source", ["dataset", "stream"])
def test_mirrored_on_one_device_trains_as_without_strategy(generated_set, tmp_path, monkeypatch,
                                                           train_source):
    """Same seed: a MirroredStrategy run (the CPU as its one replica) gives the weights, losses
    and metrics of a run without a strategy (both in graph mode, as distributed runs train)."""
    monkeypatch.setattr(training, "EAGER_MAX_STEPS", 0)
    results = {}
    for distribution in ("none", "mirrored"):
        run = training.SignRun(name=f"{train_source}_{distribution}", n_reflections=709,
                               depth=1, width=16, epochs=2, batch_size=8, seed=3,
                               weight_type="intensity", distribution=distribution,
                               train_source=train_source, steps_per_epoch=3)
        results[distribution] = training.train_sign_model(run, _data(generated_set), tmp_path)
    plain, mirrored = results["none"], results["mirrored"]
    for a, b in zip(_weights(plain), _weights(mirrored), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    cols = [c for c in plain.history.columns if c != "seconds"]
    np.testing.assert_allclose(plain.history[cols].to_numpy(), mirrored.history[cols].to_numpy(),
                               rtol=1e-5, atol=1e-6)
    for split in training.SPLITS:
        for key, value in plain.metrics[split].items():
            assert np.isclose(value, mirrored.metrics[split][key], rtol=1e-5, atol=1e-6), key
    config = json.loads((tmp_path / mirrored.name / "config.json").read_text())
    assert config["distribution"]["strategy"] == "MirroredStrategy"
    assert config["distribution"]["replicas"] == 1
    assert "CPU" in config["distribution"]["devices"][0]
    assert json.loads((tmp_path / plain.name / "config.json").read_text())[
        "distribution"] == {"asked": "none", "strategy": "none", "replicas": 1, "devices": []}


def test_run_from_the_stream_records_structures_seen(generated_set, tmp_path):
    """Training from the stream: new structures every epoch, validation and test on the file,
    the history's x-axis in structures seen, the generator taken from the file's provenance."""
    run = training.SignRun(name="stream", n_reflections=709, depth=1, width=16, epochs=3,
                           batch_size=8, seed=2, train_source="stream", steps_per_epoch=2)
    result = training.train_sign_model(run, _data(generated_set), tmp_path)
    history = pd.read_csv(tmp_path / "stream" / "history.csv")
    assert list(history["structures_seen"]) == [16, 32, 48]
    assert np.isfinite(history["val_loss"]).all()
    source = result.data["train_source"]
    assert source["source"] == "stream" and source["structures_seen"] == 48
    assert source["generator"] == GEN.as_dict()
    assert source["generator_from"].startswith("provenance")
    assert result.metrics["train"]["n_structures"] == 16        # the last epoch's structures
    assert result.metrics["validation"]["n_structures"] == 7     # the file's held-out splits
    assert result.metrics["test"]["n_structures"] == 4
    # A data-set run counts the training split once per epoch; the default steps per epoch of
    # the stream are those of the training split.
    ds = training.train_sign_model(training.SignRun(name="ds", n_reflections=709, depth=1,
                                                    width=16, epochs=2, batch_size=8),
                                   _data(generated_set), tmp_path)
    assert list(ds.history["structures_seen"]) == [29, 58]
    ae = training.train_autoencoder(training.AutoencoderRun(
        name="ae_stream", bottleneck=4, n_reflections=709, epochs=1, batch_size=8,
        train_source="stream"), _data(generated_set), tmp_path)
    assert list(ae.history["structures_seen"]) == [32]         # ceil(29 / 8) = 4 steps of 8
    assert np.isfinite(ae.metrics["test"]["mse"])


def test_stream_refuses_experimental_sets_and_bad_sources(tmp_path):
    path = write_fake_dataset(tmp_path / "experimental.h5", 20, seed=1, kind="experimental")
    data = training.DataSpec(path, inputs.split_rows(20, None, 0.2, 0.2))
    run = training.SignRun(name="x", n_reflections=709, epochs=1, train_source="stream")
    with pytest.raises(ValueError, match="experimental"):
        training.train_sign_model(run, data, tmp_path)
    run.train_source = "disk"
    with pytest.raises(ValueError, match="train_source"):
        training.train_sign_model(run, data, tmp_path)


def test_build_on_an_existing_dask_cluster(generated_set, tmp_path):
    """build_generated(dask_address=...) on a running LocalCluster (one worker process,
    127.0.0.1) writes the same data set as the in-process build."""
    distributed = pytest.importorskip("dask.distributed")
    import logging

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        path = tmp_path / "calculated.h5"
        result = _build(path, dask_address=address)
        with distributed.Client(address) as client:               # the cluster is still up
            assert len(client.scheduler_info()["workers"]) == 1
    assert result.n_structures == N_SET and result.computed_chunks == 3
    a = store.load_arrays(generated_set, ("intensity", "sign", "source_id"))
    b = store.load_arrays(path, ("intensity", "sign", "source_id"))
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert store.read_provenance(path)["dask_address"] == address


_TWO_REPLICAS = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    import numpy as np
    import tensorflow as tf

    # Two logical CPU devices, before TensorFlow starts; "mirrored" mirrors over both.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    _mirrored = tf.distribute.MirroredStrategy
    tf.distribute.MirroredStrategy = lambda: _mirrored(["/cpu:0", "/cpu:1"])

    sys.path.insert(0, "tests")
    from _fake_data import write_fake_dataset
    from lib.phases import inputs, training

    tmp = Path(tempfile.mkdtemp())
    path = write_fake_dataset(tmp / "calculated.h5", 40, n_reflections=709, seed=3)
    R = inputs.RowRange
    even = training.DataSpec(path, {"train": R(0, 24), "validation": R(24, 32),
                                    "test": R(32, 40)}, in_memory=True)
    training.EAGER_MAX_STEPS = 0
    res = {}
    for d in ("none", "mirrored"):
        run = training.SignRun(name=d, n_reflections=709, depth=1, width=16, epochs=2,
                               batch_size=8, seed=3, weight_type="intensity", distribution=d)
        res[d] = training.train_sign_model(run, even, tmp)
    a, b = res["none"], res["mirrored"]
    # A split that ends in a partial batch (29 = 3 x 8 + 5): cut to 4, two shares of 2.
    uneven = training.DataSpec(path, inputs.split_rows(40, None, 0.2, 0.1), in_memory=True)
    run = training.SignRun(name="uneven", n_reflections=709, depth=1, width=16, epochs=2,
                           batch_size=8, seed=3, distribution="mirrored")
    c = training.train_sign_model(run, uneven, tmp)
    try:
        training.train_sign_model(training.SignRun(name="odd", n_reflections=709, epochs=1,
                                                   batch_size=7, distribution="mirrored"),
                                  even, tmp)
        odd = ""
    except ValueError as e:
        odd = str(e)
    print(json.dumps({
        "replicas": b.extra["distribution"]["replicas"],
        "max_weight_diff": float(max(np.abs(x - y).max() for x, y in
                                     zip(a.model.get_weights(), b.model.get_weights()))),
        "loss": [list(a.history["loss"]), list(b.history["loss"])],
        "val_loss": [list(a.history["val_loss"]), list(b.history["val_loss"])],
        "uneven_seen": list(c.history["structures_seen"]),
        "uneven_train_metrics_n": c.metrics["train"]["n_structures"],
        "odd_batch_error": odd}))
""")


@tensorflow_only
def test_two_replicas_split_the_global_batch(tmp_path):
    """MirroredStrategy over two logical CPU devices (a fresh process: devices are fixed when
    TensorFlow starts): batch 8 = 4 + 4 per step gives the one-device run's weights and losses;
    a partial last batch is cut to a multiple of 2; a batch of 7 is refused."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", _TWO_REPLICAS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert out["max_weight_diff"] < 1e-6
    np.testing.assert_allclose(out["loss"][0], out["loss"][1], rtol=1e-5)
    np.testing.assert_allclose(out["val_loss"][0], out["val_loss"][1], rtol=1e-5)
    assert out["uneven_seen"] == [28, 56]              # 8 + 8 + 8 + 4 per epoch
    assert out["uneven_train_metrics_n"] == 29          # final metrics: every structure
    assert "multiple of 2" in out["odd_batch_error"]
