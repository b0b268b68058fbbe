"""The one switch between the worlds (scalpel_core.worlds): each answer in both worlds, on the
smoke world and on local stand-ins of the hub data (built by the tests, offline)."""

from __future__ import annotations

import pytest

from scalpel_core import config, worlds


def test_which_world_and_what_identifies_its_base(smoke_cfg):
    assert worlds.miniature(smoke_cfg) and not worlds.miniature(config.load("gpu-small"))
    assert worlds.base_identity(smoke_cfg) == {"base_hash": smoke_cfg.base_hash}
    assert worlds.base_identity(config.load("paper")) == {}  # base_model names it
    assert worlds.prepare_base(config.load("paper")) is None  # nothing to build in the real world
    assert worlds.base_source(config.load("paper")) == "allenai/OLMo-2-1124-7B-Instruct"
    assert worlds.sft_max_length(smoke_cfg) == smoke_cfg.max_seq_len
    assert worlds.sft_max_length(config.load("paper")) == 4096


def test_the_miniature_training_set_and_math500(smoke_cfg, smoke_world):
    ds = worlds.training_set(smoke_cfg)
    assert len(ds) == smoke_cfg.n_train_problems and set(ds.column_names) == {"prompt", "completion", "answer"}
    first = smoke_world.k12_train[0]
    assert ds[0]["prompt"] == first["prompt"] and ds[0]["answer"] == first["answer"]
    assert ds[0]["completion"] == [{"role": "assistant", "content": first["teacher_solution"]}]
    prompts = worlds.math500_prompts(smoke_cfg, limit=3)
    assert prompts == [{"prompt": it["prompt"], "answer": it["answer"]} for it in smoke_world.benchmarks["math500"][:3]]
    assert "[K12 post-training]" in worlds.describe(smoke_cfg, built=smoke_world)


def test_the_real_math500_prompts_come_from_the_data_file(tmp_path):
    import json

    rows = [{"problem": f"What is ${i}+1$?", "solution": f"$\\boxed{{{i + 1}}}$", "answer": str(i + 1)} for i in range(5)]
    data = tmp_path / "math500.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = config.load("gpu-small", eval_dataset=str(data))
    prompts = worlds.math500_prompts(cfg, limit=2)
    assert [p["answer"] for p in prompts] == ["1", "2"]
    assert [m["role"] for m in prompts[0]["prompt"]] == ["system", "user"]
    assert prompts[1]["prompt"][-1]["content"] == "What is $1+1$?"
    assert len(worlds.math500_prompts(cfg)) == 5


def test_the_real_training_set_is_the_cn_k12_rows_in_order(openr1_dir, smoke_tokenizer):
    from scalpel_core.data.hub import load_openr1_k12

    cfg = config.load("gpu-small", train_dataset=str(openr1_dir), n_train_problems=2)
    ds = worlds.training_set(cfg, smoke_tokenizer)
    full = load_openr1_k12(smoke_tokenizer, str(openr1_dir), max_length=cfg.max_length)
    assert ds.column_names == ["prompt", "completion", "answer"] and len(ds) == 2
    assert ds[1]["answer"] == full[1]["answer"] and ds[1]["prompt"] == full[1]["prompt"]


def test_the_world_package_refuses_a_real_config():
    from scalpel_core.world.build import build_world

    with pytest.raises(config.ConfigError, match="build_world needs world='mini'"):
        build_world(config.load("gpu-small"))
