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
