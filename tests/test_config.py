"""registry.toml validation: every bad case is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.config import load_config, packaged_registry_path
from zoo.errors import ConfigError
from zoo.plugin import load_catalog

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    return path


# Each bad file is made from a good registry.toml (``text``: the registry_text fixture).
BAD_FILES = {
    "malformed": (lambda text: "[grid\nmodels = 1", "invalid TOML"),
    "unknown_top_key": (lambda text: text(tail="[extras]\na = 1\n"), "unknown key 'extras'"),
    "unknown_grid_key": (lambda text: text(grid_extra="modles = ['cnn']"), "grid.modles: unknown key"),
    "wrong_type": (lambda text: text().replace("epochs = 1", 'epochs = "one"'),
                   "grid.epochs must be an integer, got str"),
    "bool_is_not_int": (lambda text: text().replace("epochs = 1", "epochs = true"), "grid.epochs must be an integer"),
    "zero_epochs": (lambda text: text().replace("epochs = 1", "epochs = 0"), "grid.epochs must be in [1, 100000], got 0"),
    "list_of_non_strings": (lambda text: text().replace('models = ["mlp", "cnn"]', "models = [1, 2]"),
                            "grid.models must be a list of strings"),
    "missing_key": (lambda text: text().replace("seed = 0\n", ""), "grid: missing key 'seed'"),
    "plugins_wrong_type": (lambda text: text().replace("disabled = []", 'disabled = "x"'),
                           "plugins.disabled must be a list"),
    "defaults_unknown_kind": (lambda text: text(tail="[defaults.widgets.x]\na = 1\n"),
                              "defaults.widgets: unknown kind"),
}

BAD_NAMES = {
    "unknown_model": (lambda text: text().replace('"mlp", "cnn"', '"mlp", "cnnn"'),
                      "grid.models: unknown model 'cnnn' (did you mean 'cnn'"),
    "unknown_dataset": (lambda text: text().replace('datasets = ["mnist"]', 'datasets = ["cifar"]'),
                        "grid.datasets: unknown dataset 'cifar'"),
    "glob_matches_nothing": (lambda text: text().replace('optimizers = ["sgd"]', 'optimizers = ["zz*"]'),
                             "grid.optimizers: no optimizer matches 'zz*'"),
    "unknown_entry_in_defaults": (lambda text: text(tail="[defaults.optimizers.sgdd]\nlearning_rate = 0.1\n"),
                                  "defaults.optimizers.sgdd: unknown optimizer 'sgdd'"),
    "unknown_param": (lambda text: text(tail="[defaults.optimizers.sgd]\nlr = 0.1\n"),
                      "defaults.optimizers.sgd: optimizer 'sgd' has no parameter 'lr'"),
    "param_wrong_type": (lambda text: text(tail="[defaults.optimizers.sgd]\nlearning_rate = 'fast'\n"),
                         "parameter 'learning_rate' must be float, got str"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_one_line_error_naming_file_and_key(tmp_path, case, registry_text):
    make, message = BAD_FILES[case]
    path = write(tmp_path, make(registry_text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_names_are_checked_against_the_registry(tmp_path, case, registry_text):
    make, message = BAD_NAMES[case]
    path = write(tmp_path, make(registry_text))
    load_config(path)  # types are fine: only the names are wrong
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="registry file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_malformed_registry_in_one_line(tmp_path, assert_one_line_error, run_zoo,
                                                      registry_text):
    path = write(tmp_path, BAD_FILES["unknown_grid_key"][0](registry_text))
    assert_one_line_error(run_zoo("--registry", str(path), "list"), str(path), "grid.modles")


def test_cli_list_warns_about_unknown_names_but_still_lists(tmp_path, run_zoo, registry_text):
    path = write(tmp_path, BAD_NAMES["unknown_model"][0](registry_text))
    proc = run_zoo("--registry", str(path), "list", "models")
    assert proc.returncode == 0 and "cnn" in proc.stdout
    assert "zoo: warning:" in proc.stderr and "grid.models: unknown model 'cnnn'" in proc.stderr


def test_environment_variable_selects_the_registry(tmp_path, monkeypatch, registry_text):
    path = write(tmp_path, registry_text(tail="[defaults.optimizers.sgd]\nlearning_rate = 0.5\n"))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    assert load_catalog().params("optimizers", "sgd") == {"learning_rate": 0.5}


def test_registry_defaults_sit_between_plugin_defaults_and_overrides(tmp_path, registry_text):
    path = write(tmp_path, registry_text(tail="[defaults.optimizers.momentum]\nmomentum = 0.5\n"))
    catalog = load_catalog(path)
    assert catalog.params("optimizers", "momentum") == {"learning_rate": 0.01, "momentum": 0.5}
    assert catalog.params("optimizers", "momentum", {"momentum": 0.7})["momentum"] == 0.7


def test_packaged_registry_is_the_repository_catalogue(repo_root):
    assert packaged_registry_path().read_bytes() == (repo_root / "registry.toml").read_bytes()
    config = load_config(None)
    assert config.grid["datasets"] == ["mnist"] and "cnn" in config.grid["models"]
    # the course's settings are the built-ins' own defaults: registry.toml overrides none
    assert config.defaults == {}
