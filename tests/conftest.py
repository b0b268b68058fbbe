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


def _openr1_rows():
    """Rows with OpenR1-Math-220k's columns: two cn_k12 rows that fit, one other source,
    and one cn_k12 row whose trace is far too long."""
    def row(problem, trace, source, answer="1"):
        return {"problem": problem, "solution": "s", "answer": answer, "problem_type": "Algebra",
                "question_type": "math-word-problem", "source": source, "uuid": problem,
                "is_reasoning_complete": [True], "generations": [trace],
                "correctness_math_verify": [True], "correctness_llama": None,
                "finish_reasons": None, "correctness_count": 1,
                "messages": [{"role": "user", "content": problem},
                             {"role": "assistant", "content": trace}]}
    return [
        row("Compute 1 + 2.", "<think>\n1 plus 2 gives 3.\n</think>\n<answer>\n3\n</answer>", "cn_k12", "3"),
        row("Compute 5 - 2.", "<think>\nshort\n</think>\n<answer>\n3\n</answer>", "olympiads", "3"),
        row("Compute 9 + 9.", "<think>\n" + "Wait, let me check again. " * 300 + "\n</think>", "cn_k12", "18"),
        row("Compute 2 + 2.", "<think>\n2 plus 2 gives 4.\n</think>\n<answer>\n4\n</answer>", "cn_k12", "4"),
    ]


@pytest.fixture
def openr1_dir(tmp_path):
    """A local stand-in for open-r1/OpenR1-Math-220k (config 'extended'), as parquet."""
    import pandas as pd

    d = tmp_path / "openr1" / "extended"
    d.mkdir(parents=True)
    pd.DataFrame(_openr1_rows()).to_parquet(d / "train-00000-of-00001.parquet")
    return d


@pytest.fixture
def math500_file(tmp_path):
    """A local stand-in for HuggingFaceH4/MATH-500 (test split), as JSON lines."""
    import pandas as pd

    f = tmp_path / "math500.jsonl"
    pd.DataFrame([{"problem": f"What is ${i}+1$?", "solution": f"It is $\\boxed{{{i + 1}}}$.",
                   "answer": str(i + 1), "subject": "Algebra", "level": 1, "unique_id": str(i)}
                  for i in range(10)]).to_json(f, orient="records", lines=True)
    return f


@pytest.fixture
def model_dir(tmp_path, random_model, smoke_tokenizer):
    """The random smoke model saved in HF layout, as a stand-in for a hub model id."""
    path = tmp_path / "model"
    random_model.save_pretrained(path)
    smoke_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def smoke_base(tmp_path_factory, smoke_cfg, smoke_world):
    """The smoke base model, pretrained once per test session (about 4 s)."""
    from scalpel_core.world.base import build_base

    root = tmp_path_factory.mktemp("base-artifacts")
    old = os.environ.get("SCALPEL_ARTIFACTS")
    os.environ["SCALPEL_ARTIFACTS"] = str(root)
    try:
        return build_base(smoke_cfg, progress=False, world=smoke_world)
    finally:
        if old is None:
            del os.environ["SCALPEL_ARTIFACTS"]
        else:
            os.environ["SCALPEL_ARTIFACTS"] = old


@pytest.fixture
def artifacts(tmp_path, monkeypatch, smoke_base):
    """A fresh artifacts folder for one test, sharing the session's smoke base."""
    root = tmp_path / "artifacts"
    (root / "smoke").mkdir(parents=True)
    (root / "smoke" / "base").symlink_to(smoke_base.parent)
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(root))
    return root


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory, smoke_base):
    """An artifacts root with finished smoke runs grpo-s0 and sft1ep-s0 (trained once per session)."""
    from scalpel_core.train import trainer

    root = tmp_path_factory.mktemp("runs-artifacts")
    (root / "smoke").mkdir()
    (root / "smoke" / "base").symlink_to(smoke_base.parent)
    old = os.environ.get("SCALPEL_ARTIFACTS")
    os.environ["SCALPEL_ARTIFACTS"] = str(root)
    try:
        for method in ("grpo", "sft1ep"):
            trainer.train(config.load("smoke", method=method), progress=False)
    finally:
        if old is None:
            del os.environ["SCALPEL_ARTIFACTS"]
        else:
            os.environ["SCALPEL_ARTIFACTS"] = old
    return root
