"""The real-data path: OpenR1-Math-220k (cn_k12), MATH-500 and OLMo-2, rendered as the paper did
(paper/ORIGINAL.md, "Setup" and "Metrics").

Every loader takes a hub id or a local path with the same columns (the tests use
local fixtures; nothing here needs the network when given a path).
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, load_dataset

from .prompts import with_system

OPENR1_COLUMNS = ("problem", "answer", "messages", "source")
MATH500_COLUMNS = ("problem", "solution", "answer")
_EXT = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}


def _load(source: str, config_name: str | None, split: str) -> Dataset:
    path = Path(source)
    if path.is_file():
        if path.suffix not in _EXT:
            raise ValueError(f"cannot read {path}: expected one of {', '.join(_EXT)} or a dataset folder")
        return load_dataset(_EXT[path.suffix], data_files=str(path), split="train")
    if path.exists():
        return load_dataset(str(path), split=split)
    return load_dataset(source, config_name, split=split)


def _require(ds: Dataset, columns, source: str):
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise ValueError(f"{source} lacks column(s) {missing}; expected {list(columns)}, found {ds.column_names}")


def n_chat_tokens(tokenizer, messages: list[dict]) -> int:
    """Token count of ``messages`` after the chat template (special tokens included)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def load_openr1_k12(tokenizer, source: str = "open-r1/OpenR1-Math-220k", config_name: str = "extended",
                    split: str = "train", keep_source: str = "cn_k12", max_length: int | None = 4096,
                    num_proc: int | None = None) -> Dataset:
    """OpenR1-Math rows with ``source == keep_source`` whose conversation (system prompt +
    problem + R1 trace) is at most ``max_length`` tokens after the chat template.

    Columns: ``prompt`` (system + user, for GRPO), ``completion`` (the R1 trace, for SFT),
    ``answer`` (gold, for our accuracy reward), ``solution`` (the reference solution, from which
    the authors' accuracy reward parses the gold; ``$\\boxed{answer}$`` for a copy without that
    column), ``problem`` and ``n_tokens``. ``max_length=None`` keeps every row.
    """
    ds = _load(source, config_name, split)
    _require(ds, OPENR1_COLUMNS, source)
    ds = ds.filter(lambda s: s == keep_source, input_columns="source", num_proc=num_proc)

    def render(row):
        trace = [m for m in row["messages"] if m["role"] == "assistant"]
        if not trace:
            raise ValueError(f"{source}: a row has no assistant message (problem: {row['problem'][:80]!r})")
        prompt = with_system(row["problem"])
        completion = [{"role": "assistant", "content": trace[-1]["content"]}]
        solution = row.get("solution") or f"$\\boxed{{{row['answer']}}}$"
        return {"prompt": prompt, "completion": completion, "solution": solution,
                "n_tokens": n_chat_tokens(tokenizer, prompt + completion)}

    keep = ["problem", "answer"]
    ds = ds.map(render, remove_columns=[c for c in ds.column_names if c not in keep], num_proc=num_proc)
    if max_length is None:
        return ds
    return ds.filter(lambda n: n <= max_length, input_columns="n_tokens", num_proc=num_proc)


def load_math500(source: str = "HuggingFaceH4/MATH-500", split: str = "test") -> Dataset:
    """MATH-500 with ``messages`` = [user: problem, assistant: reference solution] (for the
    teacher-forced KL) and ``prompt`` = system prompt + problem (for generation)."""
    ds = _load(source, None, split)
    _require(ds, MATH500_COLUMNS, source)
    return ds.map(lambda row: {
        "messages": [{"role": "user", "content": row["problem"]},
                     {"role": "assistant", "content": row["solution"]}],
        "prompt": with_system(row["problem"]),
    })


def load_model(name_or_path: str, dtype: str = "auto", device: str | None = None):
    """A causal LM and its tokenizer by hub id (e.g. ``allenai/OLMo-2-1124-7B-Instruct``) or path.

    Refuses a tokenizer without a chat template: every prompt here is a chat.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if not tokenizer.chat_template:
        raise ValueError(f"{name_or_path}: tokenizer has no chat template, but every prompt here is a "
                         "chat (system prompt + problem); use an instruct model such as "
                         "allenai/OLMo-2-1124-7B-Instruct")
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch_dtype)
    if device:
        model = model.to(device)
    return model.eval(), tokenizer
