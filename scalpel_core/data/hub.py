"""The real-data path: OpenR1-Math-220k (cn_k12), MATH-500 and OLMo-2, rendered as the paper did
(paper/ORIGINAL.md, "Setup" and "Metrics").

Every loader takes a hub id or a local path with the same columns (the tests use
local fixtures; nothing here needs the network when given a path).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from datasets import Dataset, load_dataset

from ..checkpoints import check_model_folder, hub_unreachable, looks_local, offline_note
from ..config import ScalpelError
from .prompts import with_system

OPENR1_COLUMNS = ("problem", "answer", "messages", "source")
MATH500_COLUMNS = ("problem", "solution", "answer")
_EXT = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}
_LOCAL = f"a local {', '.join(_EXT)} file or a dataset folder"


class DataError(ScalpelError, ValueError):
    """A data set or model that cannot be read: a missing or unreadable file, missing columns, or a
    hub id that cannot be fetched."""


def _looks_local(source: str) -> bool:
    """Whether ``source`` is meant as a path (a file extension, ``./``, ``/``, ``~``, or not
    ``owner/name``) rather than a hub id."""
    return Path(str(source)).suffix in _EXT or looks_local(source)


def _innermost(err: BaseException) -> str:
    """``Type: first line`` of the deepest exception ``err`` was raised from (the actual cause)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


def _hub_error(source: str, err: BaseException, what: str = "data set", local: str = _LOCAL) -> DataError:
    if hub_unreachable(err):
        return DataError(f"{what} {source} is not found locally and the hub is unreachable{offline_note()}; "
                         f"pass a local path instead ({local})")
    if "NotFound" in type(err).__name__ or isinstance(err, FileNotFoundError):
        return DataError(f"{what} {source} is not a local path and the hub has no such {what} (or it is "
                         f"gated); pass a local path ({local}) or a valid hub id")
    return DataError(f"cannot load {what} {source} from the hub ({_innermost(err)}); pass a local path ({local})")


def _read(path: Path, *args, **kwargs) -> Dataset:
    try:
        return load_dataset(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - unreadable or malformed file: name it and the cause
        raise DataError(f"cannot read {path} ({_innermost(err)}); expected {_LOCAL} "
                        "with one record per row") from err


def _load(source: str, config_name: str | None, split: str) -> Dataset:
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in _EXT:
            raise DataError(f"cannot read {path}: expected one of {', '.join(_EXT)} or a dataset folder")
        return _read(path, _EXT[path.suffix], data_files=str(path), split="train")
    if path.exists():
        return _read(path, str(path), split=split)
    if _looks_local(source):
        raise DataError(f"data file {source} does not exist (expected {_LOCAL}, or a hub id owner/name)")
    try:
        return load_dataset(source, config_name, split=split)
    except Exception as err:  # noqa: BLE001 - offline, no such data set, gated: say which
        raise _hub_error(source, err) from err


def _require(ds: Dataset, columns, source: str):
    _require_names(ds.column_names, columns, source)


def _require_names(names, columns, source: str):
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{source} lacks column(s) {missing}; expected {list(columns)}, found {list(names)}")


@contextmanager
def _quiet():
    """No progress bars and no log lines from ``datasets`` while checking (its error, if any, is ours)."""
    import datasets
    from datasets.utils import logging as ds_logging

    bars, level = datasets.is_progress_bar_enabled(), ds_logging.get_verbosity()
    datasets.disable_progress_bars()
    ds_logging.set_verbosity(ds_logging.CRITICAL + 10)
    try:
        yield
    finally:
        ds_logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


def check_source(source: str, columns, config_name: str | None = None, split: str = "train") -> None:
    """A :class:`DataError` now, before any slow work and without any other output, if ``source``
    cannot be read or lacks ``columns``. A local copy is read; of a hub data set only its
    description is fetched."""
    with _quiet():
        if Path(source).expanduser().exists() or _looks_local(source):
            _require(_load(source, config_name, split), columns, source)
            return
        from datasets import load_dataset_builder

        try:
            features = load_dataset_builder(source, config_name).info.features
        except Exception as err:  # noqa: BLE001 - offline, no such data set, gated: say which
            raise _hub_error(source, err) from err
    if features is not None:
        _require_names(list(features), columns, source)


def n_chat_tokens(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> int:
    """Token count of ``messages`` after the chat template (special tokens included)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
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


def check_model(name_or_path: str, what: str = "model") -> None:
    """A :class:`DataError` (or :class:`~scalpel_core.checkpoints.CheckpointError`) now, before any
    slow work, if ``name_or_path`` is not a local causal LM folder with a tokenizer and chat template,
    nor a hub model that can be fetched (only its config.json is fetched here)."""
    path = Path(name_or_path).expanduser()
    if path.exists() or _looks_local(name_or_path):
        check_model_folder(path, what, tokenizer=True, chat_template=True)
        return
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(name_or_path, "config.json")
    except Exception as err:  # noqa: BLE001 - offline, no such model, gated: say which
        raise _hub_error(name_or_path, err, what, "a Hugging Face model folder") from err


def load_model(name_or_path: str, dtype: str = "auto", device: str | None = None):
    """A causal LM and its tokenizer by hub id (e.g. ``allenai/OLMo-2-1124-7B-Instruct``) or path.

    Refuses a tokenizer without a chat template: every prompt here is a chat.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if Path(name_or_path).expanduser().is_dir():
        check_model_folder(Path(name_or_path).expanduser(), "model", tokenizer=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except OSError as err:
        if Path(name_or_path).expanduser().exists():
            raise
        raise _hub_error(name_or_path, err, "model", "a Hugging Face model folder") from err
    if not tokenizer.chat_template:
        raise DataError(f"{name_or_path}: tokenizer has no chat template, but every prompt here is a "
                         "chat (system prompt + problem); use an instruct model such as "
                         "allenai/OLMo-2-1124-7B-Instruct")
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch_dtype)
    if device:
        model = model.to(device)
    return model.eval(), tokenizer
