"""The real-data loaders, on local fixtures with the hub datasets' columns (built here, offline)."""

import pandas as pd
import pytest

from scalpel_core.data.hub import load_math500, load_model, load_openr1_k12, n_chat_tokens
from scalpel_core.data.prompts import SYSTEM_PROMPT


def test_openr1_keeps_cn_k12_within_length(openr1_dir, smoke_tokenizer):
    ds = load_openr1_k12(smoke_tokenizer, str(openr1_dir), max_length=400)
    assert ds["problem"] == ["Compute 1 + 2.", "Compute 2 + 2."]  # olympiads and the long one dropped
    assert ds["answer"] == ["3", "4"]
    row = ds[0]
    assert row["prompt"] == [{"role": "system", "content": SYSTEM_PROMPT},
                             {"role": "user", "content": "Compute 1 + 2."}]
    assert row["completion"] == [{"role": "assistant",
                                  "content": "<think>\n1 plus 2 gives 3.\n</think>\n<answer>\n3\n</answer>"}]
    assert row["n_tokens"] == n_chat_tokens(smoke_tokenizer, row["prompt"] + row["completion"]) <= 400


def test_openr1_length_cut_counts_chat_template_tokens(openr1_dir, smoke_tokenizer):
    full = load_openr1_k12(smoke_tokenizer, str(openr1_dir), max_length=10**6)
    assert len(full) == 3
    longest = max(full["n_tokens"])
    assert len(load_openr1_k12(smoke_tokenizer, str(openr1_dir), max_length=longest - 1)) == 2


def test_openr1_from_single_file(openr1_dir, smoke_tokenizer):
    f = next(openr1_dir.glob("*.parquet"))
    assert len(load_openr1_k12(smoke_tokenizer, str(f), max_length=400)) == 2


def test_openr1_missing_columns_is_clear(tmp_path, smoke_tokenizer):
    f = tmp_path / "bad.jsonl"
    pd.DataFrame([{"problem": "x", "answer": "1"}]).to_json(f, orient="records", lines=True)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['messages', 'source'\]"):
        load_openr1_k12(smoke_tokenizer, str(f))


def test_math500_rendering(math500_file):
    ds = load_math500(str(math500_file))
    assert len(ds) == 10
    assert ds[1]["messages"] == [{"role": "user", "content": "What is $1+1$?"},
                                 {"role": "assistant", "content": "It is $\\boxed{2}$."}]
    assert ds[1]["prompt"] == [{"role": "system", "content": SYSTEM_PROMPT},
                               {"role": "user", "content": "What is $1+1$?"}]


def test_unknown_file_type(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="expected one of"):
        load_math500(str(f))


def test_load_model_by_path(model_dir):
    model, tok = load_model(str(model_dir), dtype="float32")
    assert type(model).__name__ == "Olmo2ForCausalLM" and not model.training
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith("<|endoftext|><|user|>")


def test_load_model_requires_chat_template(model_dir):
    import json

    cfg = model_dir / "tokenizer_config.json"
    data = json.loads(cfg.read_text())
    data.pop("chat_template", None)
    cfg.write_text(json.dumps(data))
    for extra in model_dir.glob("chat_template.*"):
        extra.unlink()
    with pytest.raises(ValueError, match="no chat template"):
        load_model(str(model_dir))


def test_math500_conversations_real_and_miniature(math500_file, smoke_cfg):
    from scalpel_core import config
    from scalpel_core.worlds import math500_conversations

    real = math500_conversations(config.load("gpu-small", eval_dataset=str(math500_file)))
    assert len(real) == 10
    assert real[3] == [{"role": "user", "content": "What is $3+1$?"},
                       {"role": "assistant", "content": "It is $\\boxed{4}$."}]
    mini = math500_conversations(smoke_cfg)
    assert len(mini) == smoke_cfg.n_math500
    assert [m["role"] for m in mini[0]] == ["user", "assistant"] and "boxed" in mini[0][1]["content"]
