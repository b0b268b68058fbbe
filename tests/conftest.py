"""Shared fixtures: the smoke world and its tokenizer, built by the tests themselves (no network)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from scalpel_core import config  # noqa: E402


@pytest.fixture(scope="session")
def smoke_cfg():
    return config.load("smoke")


@pytest.fixture(scope="session")
def smoke_world(smoke_cfg):
    from scalpel_core.world.build import build_world

    return build_world(smoke_cfg)


@pytest.fixture(scope="session")
def smoke_tokenizer(smoke_world, smoke_cfg):
    from scalpel_core.world.tokenizer import train_tokenizer

    return train_tokenizer(smoke_world.tokenizer_corpus(), smoke_cfg.vocab_size)


@pytest.fixture(scope="session")
def random_model(smoke_cfg, smoke_tokenizer):
    """A randomly initialised smoke-sized Olmo2ForCausalLM."""
    import torch
    from transformers import Olmo2ForCausalLM

    from scalpel_core.world.pretrain import model_config

    torch.manual_seed(0)
    return Olmo2ForCausalLM(model_config(smoke_cfg, smoke_tokenizer)).eval()
