"""The smoke base: pretraining is bit-identical on rebuild, cached, and bad checkpoints fail clearly."""

import json

import pytest
import torch
from safetensors.torch import load_file

from scalpel_core.world import base as base_mod
from scalpel_core.world.base import BaseModelError, build_base, check_base, load_base


@pytest.fixture(scope="module")
def built(tmp_path_factory, smoke_cfg, smoke_world):
    """The smoke base built twice, into two separate artifact folders."""
    import os

    dirs = []
    for name in ("a", "b"):
        root = tmp_path_factory.mktemp(name)
        os.environ["SCALPEL_ARTIFACTS"] = str(root)
        try:
            dirs.append(build_base(smoke_cfg, progress=False, world=smoke_world))
        finally:
            del os.environ["SCALPEL_ARTIFACTS"]
    return dirs


@pytest.mark.slow
def test_rebuild_is_bit_identical(built):
    a, b = (load_file(p / "model.safetensors") for p in built)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (built[0] / "tokenizer.json").read_text() == (built[1] / "tokenizer.json").read_text()


def test_layout_and_meta(built, smoke_cfg):
    path = built[0]
    assert path.name == smoke_cfg.base_hash and path.parent.name == "base"
    meta = json.loads((path / "base_meta.json").read_text())
    assert meta["config_hash"] == smoke_cfg.base_hash and meta["preset"] == "smoke"
    assert meta["config"]["n_layers"] == smoke_cfg.n_layers
    log = (path / "pretrain_log.csv").read_text().splitlines()
    assert len(log) == smoke_cfg.pretrain_steps + 1


def test_pretraining_lowers_the_loss(built):
    import pandas as pd

    log = pd.read_csv(built[0] / "pretrain_log.csv")
    assert log["loss"].tail(10).mean() < 0.6 * log["loss"].head(5).mean()


def test_cached_base_is_reused(built, smoke_cfg, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(built[0].parents[2]))
    monkeypatch.setattr(base_mod, "pretrain", lambda *a, **k: pytest.fail("pretrained again"))
    assert build_base(smoke_cfg, progress=False) == built[0]


def test_loads_as_olmo2_with_chat_template(built):
    model, tok = load_base(built[0], "smoke")
    assert type(model).__name__ == "Olmo2ForCausalLM"
    assert any("q_norm" in n for n, _ in model.named_parameters())
    assert tok.chat_template


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_missing_checkpoint_names_path_and_command(tmp_path, built):
    with pytest.raises(BaseModelError) as err:
        check_base(tmp_path / "nowhere", "tiny")
    assert str(tmp_path / "nowhere") in str(err.value) and "scalpel base --preset tiny --rebuild" in str(err.value)
    broken = _copy(built[0], tmp_path / "broken")
    (broken / "model.safetensors").unlink()
    with pytest.raises(BaseModelError, match=r"model\.safetensors is missing.*scalpel base --preset smoke"):
        load_base(broken, "smoke")


def test_corrupt_checkpoint_names_path_and_command(tmp_path, built):
    broken = _copy(built[0], tmp_path / "corrupt")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    with pytest.raises(BaseModelError) as err:
        load_base(broken, "smoke")
    assert str(weights) in str(err.value) and "corrupt" in str(err.value)
    assert "scalpel base --preset smoke --rebuild" in str(err.value)
    weights.write_bytes(b"not a safetensors file at all")
    with pytest.raises(BaseModelError, match="corrupt"):
        load_base(broken, "smoke")


def test_world_code_is_pinned_to_the_world_version():
    """An edit to the world generator fails here until WORLD_VERSION is bumped (a new base hash, so no
    cached base or committed calibration of the old world is reused) or WORLD_CODE is updated."""
    from scalpel_core import config

    assert base_mod.world_code_digest() == config.WORLD_CODE, (
        "scalpel_core/world/ generator code changed: bump WORLD_VERSION in config.py, or (an edit that "
        f"cannot change the world) set WORLD_CODE = {base_mod.world_code_digest()!r}")


def test_a_base_of_other_world_code_is_refused(tmp_path, built, monkeypatch):
    """A cached base records the generator's digest; one pretrained by other code is named, with the fix."""
    copy = _copy(built[0], tmp_path / "base")
    assert check_base(copy, "smoke")["world_code"] == base_mod.world_code_digest()
    monkeypatch.setattr(base_mod, "world_code_digest", lambda: "000000000000")
    with pytest.raises(BaseModelError) as err:
        check_base(copy, "smoke")
    assert str(copy) in str(err.value) and "bump WORLD_VERSION" in str(err.value)
    assert "scalpel base --preset smoke --rebuild" in str(err.value)
    meta = json.loads((copy / base_mod.META).read_text())
    del meta["world_code"]  # a base built before the digest was recorded
    (copy / base_mod.META).write_text(json.dumps(meta))
    assert "world_code" not in check_base(copy, "smoke")


@pytest.mark.slow
def test_incomplete_cache_is_rebuilt_not_trusted(tmp_path, smoke_cfg, smoke_world, monkeypatch, built):
    """A folder without base_meta.json (an interrupted build) is built again."""
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    path = base_mod.base_path(smoke_cfg)
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    out = build_base(smoke_cfg, progress=False, world=smoke_world)
    assert out == path and (path / "base_meta.json").exists()
    assert torch.equal(load_file(path / "model.safetensors")["lm_head.weight"],
                       load_file(built[0] / "model.safetensors")["lm_head.weight"])


def test_real_presets_have_no_base_to_build():
    from scalpel_core import config

    with pytest.raises(ValueError, match=r"preset 'paper' starts from a released model \(allenai/OLMo-2-1124-7B-Instruct\)"):
        build_base(config.load("paper"))


def test_skill_is_logged_against_steps_and_the_world_version_recorded(tmp_path, monkeypatch, smoke_world):
    """A skill probe runs every 10% of pretraining; its rows land in skill_log.csv beside the base,
    and base_meta.json records the world version."""
    import pandas as pd

    from scalpel_core import config

    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    cfg = config.load("smoke", pretrain_steps=20)
    calls = []

    def probe(model, tokenizer, world):
        calls.append(world is smoke_world and not model.training)
        return {"mmlu": 0.25 + 0.01 * len(calls)}

    path = build_base(cfg, progress=False, world=smoke_world, skill=probe)
    log = pd.read_csv(path / base_mod.SKILL_LOG)
    assert log.step.tolist() == list(range(2, 21, 2)) and all(calls)
    assert log.mmlu.tolist() == pytest.approx([0.25 + 0.01 * k for k in range(1, 11)])
    assert json.loads((path / "base_meta.json").read_text())["world_version"] == config.WORLD_VERSION == 3


def test_pretraining_callback_sees_skill_checkpoints(smoke_cfg, smoke_world, smoke_tokenizer):
    """``callback`` runs every 10% of training, on the model in eval mode (for skill vs steps)."""
    from scalpel_core import config
    from scalpel_core.world.pretrain import pretrain

    cfg = config.load("smoke", pretrain_steps=20)
    seen = []
    pretrain(cfg, smoke_world.pretrain_docs[:200], smoke_tokenizer, progress=False,
             callback=lambda step, model: seen.append((step, model.training)))
    assert seen == [(s, False) for s in range(2, 21, 2)]


def test_the_selection_rule_keeps_the_first_checkpoint_that_reaches_it(tmp_path, monkeypatch, smoke_world,
                                                                       smoke_tokenizer):
    """World v4 candidate: with select_greedy, the selection score runs every 5% and the base is the
    first checkpoint reaching it, bit for bit the full schedule's model at that step (its stage, not
    a shorter schedule); the skill log keeps its 10% steps."""
    import pandas as pd

    from scalpel_core import config
    from scalpel_core.world.pretrain import pretrain

    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    cfg = config.load("smoke", pretrain_steps=40, n_select=30, select_greedy=0.3)
    scores = iter([0.0, 0.1, 0.2, 0.25, 0.31, 0.9, 0.9])  # checkpoint 5 (step 10) is the first >= 0.3
    seen = []

    def select(model, tokenizer, world):
        seen.append(world is smoke_world and not model.training)
        return next(scores)

    path = build_base(cfg, progress=False, world=smoke_world, select=select,
                      skill=lambda m, t, w: {"mmlu": 0.5})
    log = pd.read_csv(path / base_mod.SELECTION_LOG)
    assert log.step.tolist() == [2, 4, 6, 8, 10] and log.select_greedy.tolist() == [0.0, 0.1, 0.2, 0.25, 0.31]
    assert len(seen) == 5 and all(seen)
    assert pd.read_csv(path / base_mod.SKILL_LOG).step.tolist() == [4, 8]
    meta = json.loads((path / "base_meta.json").read_text())
    assert meta["steps_trained"] == 10 and len(pd.read_csv(path / "pretrain_log.csv")) == 10
    assert meta["selection"] == {"threshold": 0.3, "step": 10, "greedy": 0.31, "reached": True}
    # the same model as the full 40-step schedule at step 10 (lr at step 9 is that of the 40-step cosine)
    at = {}
    pretrain(cfg, smoke_world.pretrain_docs, smoke_tokenizer, progress=False, every=4,
             callback=lambda step, m: at.update({step: {k: v.clone() for k, v in m.state_dict().items()}}))
    kept = load_file(path / "model.safetensors")
    assert all(torch.equal(kept[k], at[10][k]) for k in kept)
    assert not all(torch.equal(kept[k], at[40][k]) for k in kept)


def test_the_selection_rule_falls_back_to_the_last_step_and_needs_a_scorer(tmp_path, monkeypatch, smoke_world):
    """A threshold never reached keeps the last step (recorded as not reached); the rule without a
    scorer is refused before any work."""
    from scalpel_core import config

    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    cfg = config.load("smoke", pretrain_steps=20, n_select=30, select_greedy=0.5)
    with pytest.raises(ValueError, match="select_greedy > 0 needs a select"):
        build_base(cfg, progress=False, world=smoke_world)
    path = build_base(cfg, progress=False, world=smoke_world, select=lambda m, t, w: 0.1)
    meta = json.loads((path / "base_meta.json").read_text())
    assert meta["steps_trained"] == 20 and meta["selection"] == {"threshold": 0.5, "step": 20, "greedy": 0.1,
                                                                  "reached": False}
