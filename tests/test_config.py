import pytest

from scalpel_core import config
from scalpel_core.config import ConfigError


@pytest.mark.parametrize("preset", config.PRESETS)
def test_every_preset_loads(preset):
    cfg = config.load(preset)
    assert cfg.preset == preset
    assert (cfg.world == "real") == bool(cfg.base_model)


def test_tiny_is_default_and_deep_enough():
    assert config.load().preset == "tiny"
    assert config.load("tiny").n_layers >= 8


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(ConfigError) as err:
        config.load("tiny", learning_rat=1e-4)
    msg = str(err.value)
    assert "learning_rat" in msg and "did you mean 'learning_rate'" in msg
    assert "valid keys" in msg


def test_unknown_preset_lists_choices():
    with pytest.raises(ConfigError, match=r"unknown preset 'tiyn'.*did you mean 'tiny'.*smoke, tiny, gpu-small, paper"):
        config.load("tiyn")


@pytest.mark.parametrize("key,value", [("n_layers", "8"), ("n_layers", 8.5), ("n_layers", True),
                                       ("learning_rate", "1e-4"), ("base_model", 3)])
def test_wrong_type_names_key_and_type(key, value):
    with pytest.raises(ConfigError, match=rf"'{key}' must be"):
        config.load("tiny", **{key: value})


def test_int_accepted_for_float_and_overrides_apply():
    cfg = config.load("tiny", learning_rate=1, seed=3)
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float) and cfg.seed == 3


def test_invalid_values_rejected():
    with pytest.raises(ConfigError, match="world"):
        config.load("tiny", world="moon")
    with pytest.raises(ConfigError, match="base_model"):
        config.load("tiny", world="real")
    with pytest.raises(ConfigError, match="divisible"):
        config.load("tiny", n_heads=3)


def test_base_hash_tracks_only_base_fields():
    a = config.load("tiny")
    assert a.base_hash == config.load("tiny").base_hash
    assert a.base_hash == config.load("tiny", learning_rate=5e-5).base_hash  # post-training only
    assert a.base_hash != config.load("tiny", seed=1).base_hash
    assert a.base_hash != config.load("tiny", n_layers=10).base_hash


def test_values_are_checked_after_replace_too():
    import dataclasses

    cfg = config.load("smoke")
    with pytest.raises(config.ConfigError, match="unknown method 'ppo'"):
        dataclasses.replace(cfg, method="ppo")
    with pytest.raises(config.ConfigError, match="'n_checkpoints' must be at least 1"):
        dataclasses.replace(cfg, n_checkpoints=0)
