"""Profiles, parameter overrides and paths."""

import pytest

from lib import config


def test_every_profile_has_every_notebook_parameter():
    for notebook in config._DEFAULT:
        keys = set(config.profile_parameters(notebook, "default"))
        for profile in config.PROFILE_NAMES:
            assert set(config.profile_parameters(notebook, profile)) == keys, (notebook, profile)


def test_overrides_are_typed_and_checked():
    cfg = config.notebook_config("04_layer_sizes", "smoke", epochs="3", widths=None)
    assert cfg.epochs == 3 and cfg.overridden == ["epochs"]
    assert cfg.widths == config.profile_parameters("04_layer_sizes", "smoke")["widths"]
    with pytest.raises(ValueError, match="unknown parameter 'epoch'"):
        config.notebook_config("04_layer_sizes", "smoke", epoch=3)
    with pytest.raises(ValueError, match="must be int"):
        config.notebook_config("04_layer_sizes", "smoke", epochs="many")
    with pytest.raises(ValueError, match="must be positive"):
        config.notebook_config("04_layer_sizes", "smoke", epochs=0)
    with pytest.raises(ValueError, match="unknown profile"):
        config.notebook_config("04_layer_sizes", "laptop")


def test_int_list():
    assert config.int_list("25, 50,100") == [25, 50, 100]
    with pytest.raises(ValueError, match="widths"):
        config.int_list("25,x", "widths")
    with pytest.raises(ValueError):
        config.int_list("", "widths")


def test_figures_of_smoke_runs_stay_in_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASES_RUNS_DIR", str(tmp_path))
    assert config.figures_dir("smoke") == tmp_path / "smoke" / "figures"
    assert config.metrics_dir("default") == tmp_path / "default" / "metrics"


def test_runner_rejects_unknown_parameter(capsys):
    from lib import runner

    with pytest.raises(SystemExit):
        runner.main(["--profile", "smoke", "--only", "00", "-p", "no_such_parameter", "1"])
    assert "unknown parameter" in capsys.readouterr().err


@pytest.mark.parametrize("notebook, name, value, message", [
    ("03_weight_types", "learning_rate", -1e-3, "learning rate"),
    ("03_weight_types", "learning_rate", 0.0, "learning rate"),
    ("03_weight_types", "validation_fraction", 1.5, "fraction"),
    ("03_weight_types", "test_fraction", -0.1, "fraction"),
    ("06_xrd_classification", "sigma", -5.0, "σ"),
    ("06_xrd_classification", "symprec", 0.0, "tolerance"),
    ("06_xrd_classification", "two_theta_max", 200.0, "2θ"),
    ("06_xrd_classification", "variant_scale", 0.5, "scale factor"),
    ("00_data", "meas_completeness", 1.5, "fraction of reflections"),
    ("00_data", "min_distance", -1.2, "distance"),
    ("00_data", "u_iso_min", -0.01, "displacement"),
    ("01_normalisation", "min_pearson", 2.0, "Pearson"),
    ("00_data", "atoms_min", 0, "number of atoms"),
])
def test_values_are_checked_by_meaning(notebook, name, value, message):
    """A value of the right type that cannot be right stops the run with its name and meaning."""
    with pytest.raises(ValueError, match=rf"{name}.*{message}|{message}.*{name}"):
        config.notebook_config(notebook, "smoke", **{name: value})


@pytest.mark.parametrize("notebook, overrides, message", [
    ("00_data", {"atoms_min": 50, "atoms_max": 40}, "atoms_min"),
    ("00_data", {"cell_edge_min": 20.0}, "cell_edge_min"),
    ("03_weight_types", {"validation_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
    ("06_xrd_classification", {"two_theta_min": 90.0, "two_theta_max": 10.0}, "two_theta_min"),
])
def test_ranges_are_checked_together(notebook, overrides, message):
    with pytest.raises(ValueError, match=message):
        config.notebook_config(notebook, "smoke", **overrides)


def test_parameters_from_a_notebook_namespace():
    namespace = {"profile": "smoke", "epochs": 3, "unrelated": 1, "learning_rate": None}
    params = config.parameters_from(namespace, "04_layer_sizes")
    assert set(params) == set(config.profile_parameters("04_layer_sizes", "default"))
    assert params["epochs"] == 3 and params["learning_rate"] is None and "unrelated" not in params
    cfg = config.notebook_config("04_layer_sizes", "smoke", **params)
    assert cfg.epochs == 3 and cfg.overridden == ["epochs"]
