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
    assert len(ds) == smoke_cfg.n_train_problems
    assert set(ds.column_names) == {"prompt", "completion", "answer", "solution"}
    first = smoke_world.k12_train[0]
    assert ds[0]["prompt"] == first["prompt"] and ds[0]["answer"] == first["answer"]
    assert ds[0]["solution"] == first["solution"]
    assert ds[0]["completion"] == [{"role": "assistant", "content": first["teacher_solution"]}]
    prompts = worlds.math500_prompts(smoke_cfg, limit=3)
    assert prompts == [{"prompt": it["prompt"], "answer": it["answer"], "solution": it["solution"]}
                       for it in smoke_world.benchmarks["math500"][:3]]
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
    full = load_openr1_k12(smoke_tokenizer, str(openr1_dir), max_length=None)
    assert ds.column_names == ["prompt", "completion", "answer", "solution"] and len(ds) == 2
    assert ds[1]["answer"] == full[1]["answer"] and ds[1]["prompt"] == full[1]["prompt"]
    assert [m["role"] for m in ds[0]["prompt"]] == ["system", "user"]  # GRPO: the explicit system prompt


def test_real_sft_texts_are_rendered_as_the_authors_did(openr1_dir, smoke_tokenizer):
    """SFT prompts lose their system message, which the authors' template injects (with `<|user|>`
    and no newline); only SFT-3ep's set is filtered by length; `olmo` keeps our rendering."""
    import copy

    from scalpel_core.data.hub import load_openr1_k12
    from scalpel_core.data.prompts import SYSTEM_PROMPT

    cfg = config.load("gpu-small", train_dataset=str(openr1_dir), method="sft1ep")
    tok = worlds.training_tokenizer(cfg, copy.deepcopy(smoke_tokenizer))
    ds = worlds.training_set(cfg, tok)
    assert [m["role"] for m in ds[0]["prompt"]] == ["user"]
    text = tok.apply_chat_template(ds[0]["prompt"] + ds[0]["completion"], tokenize=False)
    assert f"<|system|>\n{SYSTEM_PROMPT}\n<|user|>{ds[0]['prompt'][0]['content']}\n<|assistant|>\n" in text
    assert len(ds) == len(load_openr1_k12(tok, str(openr1_dir), max_length=None))
    short = config.load("gpu-small", train_dataset=str(openr1_dir), method="sft3ep")  # drops the 300-line trace
    assert len(worlds.training_set(short, tok)) == len(ds) - 1 == 2
    ours = config.load("gpu-small", train_dataset=str(openr1_dir), method="sft1ep", train_template="olmo")
    tok_ours = worlds.training_tokenizer(ours, copy.deepcopy(smoke_tokenizer))
    assert [m["role"] for m in worlds.training_set(ours, tok_ours)[0]["prompt"]] == ["system", "user"]
    assert "<|user|>\n" in tok_ours.apply_chat_template(ds[0]["prompt"], tokenize=False)


def test_the_world_package_refuses_a_real_config():
    from scalpel_core.world.build import build_world

    with pytest.raises(config.ConfigError, match="build_world needs world='mini'"):
        build_world(config.load("gpu-small"))
