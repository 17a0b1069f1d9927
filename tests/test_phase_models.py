"""Sign MLP and autoencoder builders; architecture drawing from the model's own layers."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lib.phases import models, plots  # noqa: E402


def test_mlp_shapes_and_parameter_count():
    model = models.build_sign_mlp(709, depth=1, width=100)
    assert model.input_shape == (None, 709) and model.output_shape == (None, 709)
    assert models.count_parameters(model) == 709 * 100 + 100 + 100 * 709 + 709
    out = model(np.zeros((2, 709), dtype=np.float32))
    assert tuple(out.shape) == (2, 709)


def test_mlp_as_wide_as_the_input_with_options():
    model = models.build_sign_mlp(50, depth=3, dropout=0.2, batch_norm=True)
    rows = models.layer_table(model)
    types = [r["type"] for r in rows]
    assert types.count("Dense") == 4            # 3 hidden + the sign logits
    assert types.count("Dropout") == 3 and types.count("BatchNormalization") == 3
    assert all(r["units"] == 50 for r in rows)
    assert rows[-1]["name"] == "sign_logit"
    with pytest.raises(ValueError, match="dropout"):
        models.build_sign_mlp(50, dropout=1.0)


def test_autoencoder_bottleneck():
    model = models.build_autoencoder(300, 20, hidden=(64,))
    rows = {r["name"]: r for r in models.layer_table(model)}
    assert rows["bottleneck"]["units"] == 20
    assert rows["encoder_1"]["units"] == rows["decoder_1"]["units"] == 64
    assert model.output_shape == (None, 300)
    with pytest.raises(ValueError, match="bottleneck"):
        models.build_autoencoder(300, 0)


def test_architecture_is_drawn_from_the_layers():
    model = models.build_sign_mlp(30, depth=2, width=10)
    fig = plots.architecture_figure(model)
    ax = fig.axes[0]
    texts = " ".join(t.get_text() for t in ax.texts)
    for row in models.layer_table(model):
        assert row["name"] in texts
    assert f"{models.count_parameters(model):,}" in ax.get_title()
    plt.close(fig)


def test_model_code_uses_keras_only():
    """No TensorFlow calls in the model, loss and metric code: other backends work too."""
    for name in ("models.py", "losses.py"):
        source = (Path(__file__).resolve().parent.parent / "lib" / "phases" / name).read_text()
        assert not re.search(r"^\s*(import tensorflow|from tensorflow)|\btf\.\w", source,
                             re.MULTILINE), name
