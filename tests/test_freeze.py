"""Trainable-parameter specs: the right matrices train, counts add up, bad specs fail clearly."""

import copy

import pytest
import torch

from scalpel_core.arch import middle_third
from scalpel_core.train.freeze import SpecError, apply_spec, parse_layers


@pytest.fixture
def model(random_model):
    return copy.deepcopy(random_model)


def _numel(model, kinds, layers=None):
    return sum(p.numel() for n, p in model.named_parameters()
               if any(f".{k}_proj." in n for k in kinds)
               and (layers is None or any(f"layers.{i}." in n for i in layers)))


def test_all_trains_everything(model):
    table = apply_spec(model, "all")
    total = sum(p.numel() for p in model.parameters())
    assert table.loc["total", "trainable"] == total and table.loc["total", "frozen"] == 0
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("spec, kinds", [("attention", "qkvo"), ("qk", "qk")])
def test_attention_specs_train_only_their_projections(model, spec, kinds):
    table = apply_spec(model, spec)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(any(f".{k}_proj." in n for k in kinds) for n in trainable)
    assert table.loc["total", "trainable"] == _numel(model, kinds)
    assert table.loc["total", "trainable"] + table.loc["total", "frozen"] == sum(
        p.numel() for p in model.parameters())
    for kind in kinds:
        assert table.loc[kind, "frozen"] == 0 and table.loc[kind, "trainable"] > 0
    assert table.loc["gate", "trainable"] == 0 and table.loc["embed", "trainable"] == 0


def test_qk_plus_lm_head_is_the_authors_qk_run(model):
    """The authors froze `model.model` only: q, k and the untied output head train, nothing else."""
    assert not model.config.tie_word_embeddings
    table = apply_spec(model, "qk+lm_head")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if ".q_proj." in n or ".k_proj." in n} | {"lm_head.weight"}
    assert table.loc["total", "trainable"] == _numel(model, "qk") + model.lm_head.weight.numel()
    assert table.loc["lm_head", "trainable_share"] == 1.0 and table.loc["embed", "trainable"] == 0
    strict = apply_spec(copy.deepcopy(model), "qk")
    assert strict.loc["lm_head", "trainable"] == 0


def test_frozen_mid_mlp_freezes_only_the_layer_range(model):
    # the smoke model has 2 layers: the middle third is layer 1
    assert middle_third(2) == (1, 1)
    table = apply_spec(model, "frozen-mid-mlp")
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters()
                      if "layers.1.mlp." in n and n.endswith("_proj.weight")}
    assert table.loc["total", "frozen"] == _numel(model, ("gate", "up", "down"), layers=[1])
    apply_spec(model, "frozen-mid-mlp", "0-0")
    assert not model.model.layers[0].mlp.up_proj.weight.requires_grad
    assert model.model.layers[1].mlp.up_proj.weight.requires_grad


def test_middle_third_of_paper_depths():
    assert middle_third(8) == (3, 4)
    assert middle_third(32) == (11, 20)  # layers whose centre lies in the middle third
    assert parse_layers("19-25", 32) == (19, 25)


@pytest.mark.parametrize("text", ["19-25", "3", "a-b", "5-2"])
def test_bad_layer_ranges_fail_with_the_range(model, text):
    with pytest.raises(SpecError, match="frozen_layers"):
        apply_spec(model, "frozen-mid-mlp", text)


def test_unknown_spec_lists_valid_ones(model):
    with pytest.raises(SpecError, match="valid specs: all, attention, qk, qk\\+lm_head, frozen-mid-mlp"):
        apply_spec(model, "mlp")


def test_spec_that_matches_nothing_is_an_error():
    class GPT2Like(torch.nn.Module):  # fused attention, other names: nothing for 'qk' to train
        def __init__(self):
            super().__init__()
            self.c_attn = torch.nn.Linear(4, 12)
            self.c_fc = torch.nn.Linear(4, 8)

    with pytest.raises(SpecError, match="matches no parameter"):
        apply_spec(GPT2Like(), "qk")
    with pytest.raises(SpecError, match="matches no parameter"):
        apply_spec(GPT2Like(), "frozen-mid-mlp", "")


def test_every_config_spec_has_its_target_matrices():
    from scalpel_core.config import TRAINABLE
    from scalpel_core.train.freeze import TARGETS

    assert tuple(TARGETS) == TRAINABLE
