import dataclasses

import pytest

from scalpel_core import config, worlds
from scalpel_core.config import ConfigError


@pytest.mark.parametrize("preset", config.PRESETS)
def test_every_preset_loads(preset):
    cfg = config.load(preset)
    assert cfg.preset == preset
    assert (not worlds.miniature(cfg)) == bool(cfg.base_model)


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


def test_the_base_selection_rule_is_checked_and_hashed_only_when_set():
    """select_greedy needs a selection split and is an accuracy; both fields, off, leave the hash
    of every committed base as it was (config.HASHED_WHEN_SET), and either one set moves it."""
    with pytest.raises(config.ConfigError, match=r"'select_greedy' \(0.4\).*set n_select to its size"):
        config.load("smoke", select_greedy=0.4)
    with pytest.raises(config.ConfigError, match=r"'select_greedy' \(0.4\).*set n_select to its size"):
        config.load("tiny", n_select=0)  # tiny selects its base (world v5): without the split it cannot
    with pytest.raises(config.ConfigError, match=r"'select_greedy' is an accuracy in \[0, 1\]"):
        config.load("tiny", n_select=200, select_greedy=40.0)
    with pytest.raises(config.ConfigError, match="'n_select' must be 0"):
        config.load("tiny", n_select=-1)
    smoke = config.load("smoke")  # its hash with both off: tests/test_ground.py
    assert set(config.HASHED_WHEN_SET) <= set(config.BASE_FIELDS)
    assert (smoke.n_select, smoke.select_greedy) == (config.HASHED_WHEN_SET["n_select"], config.HASHED_WHEN_SET["select_greedy"])
    assert len({smoke.base_hash, config.load("smoke", n_select=200).base_hash,
                config.load("smoke", n_select=200, select_greedy=0.4).base_hash}) == 3


def test_the_facts_share_is_checked_and_hashed_only_when_set():
    """World v5 candidate: facts_share is a share in (0, 1); at the world's own share (build.MIXTURE)
    every committed base keeps its hash, and another share is another base."""
    from scalpel_core.world.build import MIXTURE

    for bad in (0.0, 1.0, -0.1, 16.0):
        with pytest.raises(config.ConfigError, match=r"'facts_share' is the share of fact sentences.*in \(0, 1\)"):
            config.load("tiny", facts_share=bad)
    smoke = config.load("smoke")
    assert smoke.facts_share == MIXTURE["facts"] == config.HASHED_WHEN_SET["facts_share"]
    assert config.load("smoke", facts_share=MIXTURE["facts"]).base_hash == smoke.base_hash
    assert len({smoke.base_hash, config.load("smoke", facts_share=0.08).base_hash,
                config.load("smoke", facts_share=0.12).base_hash}) == 3
    assert config.load("tiny").facts_share == 0.08  # world v5, adopted (README "The third candidate")


def test_every_field_has_one_scope_and_the_lists_derive_from_it():
    import dataclasses

    scopes = {f.name: f.metadata.get("scope") for f in dataclasses.fields(config.Config)}
    assert set(scopes.values()) <= set(config.SCOPES), {k: s for k, s in scopes.items() if s not in config.SCOPES}
    groups = [config.fields_of(s) for s in config.SCOPES]
    assert sorted(sum(groups, ())) == sorted(scopes)  # every field in exactly one scope
    assert config.BASE_FIELDS == config.fields_of("base") and config.EVAL_ONLY == config.fields_of("eval")


def _changed(cfg, key):
    """``cfg`` with ``key`` set to another valid value."""
    import dataclasses

    value = getattr(cfg, key)
    other = {"method": "sft1ep", "trainable": "qk", "loss_type": "dapo", "n_heads": 8, "hidden_size": 256, "world": "real",
             "preset": "smoke", "sft_loss": "completion", "train_template": "olmo", "kl_template": "olmo",
             "reward_style": "authors", "rollouts": "generate", "rejected_draws": "1,2"}.get(key)
    if other is None:
        other = (not value if isinstance(value, bool) else value + 1 if isinstance(value, int)
                 else value * 2 + 1e-3 if isinstance(value, float) else value + "x")
    extra = {"base_model": "some/model"} if key == "world" else {}
    return dataclasses.replace(cfg, **{key: other}, **extra)


def test_base_hash_covers_exactly_the_base_scope():
    """A change to any base field means a new base; a change to any other field does not."""
    import dataclasses

    tiny = config.load("tiny")
    for f in dataclasses.fields(config.Config):
        if f.name in ("world", "base_model"):
            continue  # `world` is checked with base_model set, below
        # select_greedy reads the selection split, so it is moved on a config that has one
        cfg = dataclasses.replace(tiny, n_select=200) if f.name == "select_greedy" else tiny
        moved = _changed(cfg, f.name).base_hash != cfg.base_hash
        assert moved == (f.name in config.BASE_FIELDS), f.name
    cfg = tiny
    assert _changed(cfg, "world").base_hash != cfg.base_hash


def test_run_identity_follows_the_scopes():
    """A run records every field of its method except evaluation settings, and nothing of the other method."""
    from scalpel_core.train import runs

    for method, own, other in (("grpo", config.GRPO_ONLY, config.SFT_ONLY), ("sft1ep", config.SFT_ONLY, config.GRPO_ONLY)):
        recorded = runs.run_config(config.load("tiny", method=method))
        assert set(own) <= set(recorded) and not set(other) & set(recorded), method
        assert not set(config.EVAL_ONLY) & set(recorded)
        assert set(config.BASE_FIELDS) <= set(recorded) and recorded["base_hash"] == config.load("tiny").base_hash
        for key in config.fields_of("run"):
            if key not in ("frozen_layers", "lr_factor"):  # frozen_layers: only for the frozen-mid-mlp spec that
                assert key in recorded, key                # reads it; lr_factor: only when not 1 (the paper's runs
        assert "lr_factor" in runs.run_config(config.load("tiny", method=method, lr_factor=2.0))  # keep their ids)
    # sft1ep_steps: only sft1ep reads it, and 0 (GRPO's steps, the paper's layout) keeps older runs' identity
    assert "sft1ep_steps" not in runs.run_config(config.load("tiny", method="sft3ep"))
    assert "sft1ep_steps" not in runs.run_config(config.load("smoke", method="sft1ep"))


def test_each_choice_list_names_exactly_what_its_module_implements():
    """config validates names the ground floor cannot import: they must match their registries."""
    from scalpel_core.data.prompts import TEMPLATES
    from scalpel_core.eval.rewards import REWARDS
    from scalpel_core.train.freeze import TARGETS

    assert set(config.CHAT_RENDERINGS) == set(TEMPLATES)
    assert set(config.REWARD_STYLES) == set(REWARDS)
    assert set(config.TRAINABLE) == set(TARGETS)


def test_world_draws_are_presets_with_their_own_world_seed_and_base():
    """``{preset}-w{k}`` is world draw k: the preset's settings with world seed + k, so another base
    (and another folder: the name is the preset's); the real world has no draws; k < n_worlds."""
    tiny, w2 = config.load("tiny"), config.load("tiny-w2")
    assert w2.preset == "tiny-w2" and w2.seed == tiny.seed + 2 and w2.base_hash != tiny.base_hash
    assert config.load("tiny-w1", seed=10).seed == 11
    assert dataclasses.replace(w2, seed=tiny.seed, preset="tiny") == tiny
    assert worlds.draws("smoke") == worlds.draws("smoke-w1") == ["smoke", "smoke-w1"]
    assert worlds.draws("paper") == ["paper"] and config.family("gpu-small") == "gpu-small"
    assert (config.draw_of("smoke-w1"), config.family("smoke-w1")) == (1, "smoke")
    with pytest.raises(ConfigError, match="miniature world only"):
        config.load("paper-w1")
    with pytest.raises(ConfigError, match="n_worlds=2, so its draws are smoke, smoke-w1; raise"):
        config.load("smoke-w2")
    assert config.load("smoke-w2", n_worlds=3).seed == config.load("smoke").seed + 2
    with pytest.raises(ConfigError, match="unknown preset 'tiny-w01'"):
        config.load("tiny-w01")
    assert worlds.draws("gpu-small") == ["gpu-small"]  # the real world: one draw whatever n_worlds says


def test_draws_refused_at_admission_are_skipped_but_kept_loadable():
    """A draw whose base missed a base target (rejected_draws) is replaced by the next seed offset; it
    stays loadable (its calibration is on record) and its name is given in the error for a draw beyond."""
    assert config.draw_offsets(3, "") == [0, 1, 2] and config.draw_offsets(3, "1") == [0, 2, 3]
    assert config.draw_offsets(2, "1,2") == [0, 3] and config.rejected_offsets("1,3") == [1, 3]
    tiny = config.load("tiny")
    offsets = config.draw_offsets(tiny.n_worlds, tiny.rejected_draws)
    assert worlds.draws("tiny") == [config.draw_name("tiny", k) for k in offsets] and len(offsets) == tiny.n_worlds
    for refused in worlds.rejected_draws("tiny"):
        assert refused not in worlds.draws("tiny")
        assert config.load(refused).seed == tiny.seed + config.draw_of(refused)
    beyond = f"tiny-w{max(offsets) + 1}"
    with pytest.raises(ConfigError, match=r"so its draws are tiny, .*raise n_worlds"):
        config.load(beyond)
    for bad in ("0", "1,", "a", "-1"):
        with pytest.raises(ConfigError, match="rejected_draws"):
            config.load("tiny", rejected_draws=bad)
        with pytest.raises(ConfigError, match="rejected_draws"):  # a draw's name reads the list first
            config.load("tiny-w1", rejected_draws=bad)



def test_overrides_from_the_command_line_are_typed_by_their_field():
    assert config.parse_overrides(["pretrain_steps=1800", "pretrain_lr=1e-3", "bf16=true", "frozen_layers=2-3"]) == {
        "pretrain_steps": 1800, "pretrain_lr": 1e-3, "bf16": True, "frozen_layers": "2-3"}
    assert config.load("tiny", **config.parse_overrides(["pretrain_steps=2400"])).base_hash != config.load("tiny").base_hash
    for bad, says in (("pretrain_steps", "KEY=VALUE"), ("pretrain_step=3", "did you mean 'pretrain_steps'"),
                      ("pretrain_steps=1.5", "must be int"), ("bf16=maybe", "must be bool"), ("preset=tiny", "unknown")):
        with pytest.raises(ConfigError, match=says):
            config.parse_overrides([bad])
