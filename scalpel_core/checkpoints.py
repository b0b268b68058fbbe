"""Checkpoint layout of a run: ``step-{step:09d}/`` folders (HF layout, safetensors) and a manifest.

    artifacts/{preset}/{run_id}/
        run_config.json          # what the run is (refuses a different config later)
        manifest.json            # one entry per checkpoint: step, fraction, train metrics, config hash
        train_log.json           # the trainer's full log history (per-step metrics)
        step-000000000/          # the base model (step 0)
        step-000000002/ ...      # 20 evenly spaced checkpoints, the last at the final step
        trainer/checkpoint-N/    # the latest full trainer state (optimizer, RNG) for resuming

The step folders hold only what ``from_pretrained`` needs; their weights are hard links to
the trainer's checkpoint files where the file system allows, so nothing is stored twice.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from safetensors import SafetensorError, safe_open

from .config import ScalpelError
from .paths import atomic_write

MANIFEST = "manifest.json"
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")
# Files a step folder keeps from a checkpoint (weights are matched by suffix).
KEEP = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "chat_template.jinja", "tokenizer.model", "vocab.json", "merges.txt")


class CheckpointError(ScalpelError, RuntimeError):
    """A checkpoint folder or manifest that is missing, incomplete or corrupt."""


def step_name(step: int) -> str:
    return f"step-{step:09d}"


def save_schedule(total_steps: int, n_checkpoints: int) -> list[int]:
    """``n_checkpoints`` evenly spaced steps ending at ``total_steps`` (571, 20 -> 29, 57, ..., 571)."""
    if n_checkpoints < 1:
        raise ValueError(f"n_checkpoints must be at least 1, got {n_checkpoints}")
    if total_steps < n_checkpoints:
        raise ValueError(f"a run of {total_steps} optimizer steps cannot hold {n_checkpoints} distinct "
                         f"checkpoints; use more training problems or fewer problems per step "
                         f"(at least {n_checkpoints} steps), or lower n_checkpoints")
    return [round(k * total_steps / n_checkpoints) for k in range(1, n_checkpoints + 1)]


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _save_cast(src: Path, dst: Path, dtype: str) -> None:
    """Copy a config or safetensors file, its floating-point tensors cast to ``dtype`` (``bfloat16``)."""
    import torch
    from safetensors.torch import load_file, save_file

    if src.name == "config.json":
        data = json.loads(src.read_text())
        data.update({k: dtype for k in ("dtype", "torch_dtype") if k in data} or {"dtype": dtype})
        dst.write_text(json.dumps(data, indent=2))
        return
    target = getattr(torch, dtype)
    tensors = {k: v.to(target) if v.is_floating_point() else v for k, v in load_file(src).items()}
    save_file(tensors, dst, metadata={"format": "pt"})


def export_step(src: Path, run_dir: Path, step: int, dtype: str | None = None) -> Path:
    """Publish the model files of ``src`` (a saved model or trainer checkpoint) as ``step-N/``,
    its weights cast to ``dtype`` if given (a bf16 run's float32 master weights are published in
    bf16, as the paper's checkpoints were).

    Written to a ``.partial`` folder first and renamed, so a step folder is always complete.
    """
    dst = run_dir / step_name(step)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = [p for p in Path(src).iterdir()
             if p.is_file() and (p.name in KEEP or p.name.endswith(WEIGHT_SUFFIXES))]
    if not any(p.name.endswith(".safetensors") for p in names):
        shutil.rmtree(tmp)
        raise CheckpointError(f"{src} holds no .safetensors weights; cannot export step {step}")
    for p in names:
        if dtype and (p.name == "config.json" or p.name.endswith(".safetensors")):
            _save_cast(p, tmp / p.name, dtype)
        else:
            _link_or_copy(p, tmp / p.name)
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


def write_json(path: Path, data) -> None:
    """Atomic JSON write (:func:`scalpel_core.paths.atomic_write`): a reader never sees half a file."""
    atomic_write(path, json.dumps(data, indent=2, default=float))


def read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"no manifest at {path}: {run_dir} is not a training run folder "
                              "(expected the output of scalpel train)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupt ({err}); re-run the training to rewrite it") from err


def safetensors_problem(file: Path) -> str | None:
    """Why ``file`` is not a readable safetensors file (every tensor header is read), or None."""
    try:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                f.get_slice(key).get_shape()
    except (SafetensorError, OSError, ValueError) as err:
        return str(err)
    return None


def check_checkpoint(path: Path, what: str = "checkpoint") -> None:
    """Raise :class:`CheckpointError` naming the file if ``path`` is not a loadable HF checkpoint."""
    path = Path(path)
    _require_config(path, what)
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        raise CheckpointError(f"checkpoint {path} has no *.safetensors weights")
    for file in weights:
        problem = safetensors_problem(file)
        if problem:
            raise CheckpointError(f"checkpoint weights {file} are corrupt ({problem})")


def list_checkpoints(run_dir: Path) -> list[dict]:
    """The manifest's checkpoints (base first), each with its absolute ``path``."""
    manifest = read_manifest(run_dir)
    out = []
    for entry in manifest["checkpoints"]:
        path = Path(run_dir) / entry["path"]
        if not path.is_dir():
            raise CheckpointError(f"the manifest of {run_dir} lists {entry['path']}, which is missing")
        out.append(entry | {"path": path})
    return out


def nonfinite_summary(t) -> str:
    """``'3 NaN and 0 inf values (of 4096)'``: what an error about a non-finite tensor says."""
    import torch

    return f"{int(torch.isnan(t).sum())} NaN and {int(torch.isinf(t).sum())} inf values (of {t.numel()})"


def check_finite(model, where) -> None:
    """Raise :class:`CheckpointError` naming ``where`` and the first parameter holding NaN or inf.

    Needed because a NaN weight does not always show in the outputs (attention can mask it),
    so a KL or a score computed from such a model would look fine.
    """
    import torch

    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise CheckpointError(f"checkpoint {where}: tensor {name!r} holds {nonfinite_summary(p)}")


def load_checked(path, dtype=None, device: str = "cpu", **kwargs):
    """The causal LM saved in ``path``, in eval mode on ``device``, after :func:`check_finite`;
    ``kwargs`` go to ``from_pretrained`` (e.g. ``attn_implementation="eager"``)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, **({"dtype": dtype} if dtype is not None else {}), **kwargs)
    check_finite(model, path)
    return model.to(device).eval()


def steps_table(entries: list[dict]):
    """``checkpoint, step, fraction`` of :func:`list_checkpoints` entries, to join onto a result table."""
    import pandas as pd

    return pd.DataFrame([{"checkpoint": e["path"].name, "step": e["step"], "fraction": e["fraction"]}
                         for e in entries])


# A model folder's tokenizer: one of these files (transformers' fast, sentencepiece or BPE vocabulary)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# Exceptions (by class name, anywhere in the chain) that mean the hub could not be reached
_UNREACHABLE = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError", "ConnectError",
                "TimeoutError", "ConnectTimeout", "ReadTimeout", "NetworkError", "TimeoutException"}


def _require_config(path: Path, what: str) -> str:
    """The ``model_type`` of the model folder ``path``; a :class:`CheckpointError` naming ``what`` if
    ``path`` is no folder, has no config.json or an unreadable one."""
    if not path.is_dir():
        raise CheckpointError(f"{what} {path} is not a folder (expected a Hugging Face model folder "
                              "with config.json and *.safetensors)")
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{what} {path} has no config.json (expected a Hugging Face model folder "
                              "with config.json and *.safetensors)")
    return _model_type(path)


def looks_local(ref) -> bool:
    """Whether a model or data reference is meant as a path (``./``, ``/``, ``~``, or not of the
    hub's ``owner/name`` shape) rather than a hub id."""
    text = str(ref)
    return text.startswith((".", "/", "~")) or text.count("/") != 1


def _model_type(path: Path) -> str:
    """The ``model_type`` of ``path/config.json``, or a :class:`CheckpointError` if it is unreadable."""
    file = Path(path) / "config.json"
    try:
        config = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is corrupt ({err}); copy it again from the model it belongs to") from err
    if not isinstance(config, dict) or not config.get("model_type"):
        raise CheckpointError(f"{file} names no model_type (expected a Hugging Face model config)")
    return config["model_type"]


def has_chat_template(path: Path) -> bool:
    """Whether the tokenizer saved in ``path`` carries a chat template (a file or tokenizer_config.json)."""
    path = Path(path)
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    try:
        return bool(json.loads((path / "tokenizer_config.json").read_text()).get("chat_template"))
    except (OSError, ValueError, AttributeError):
        return False


def check_model_folder(path: Path, what: str = "model", tokenizer: bool = False,
                       chat_template: bool = False, causal_lm: bool = True) -> Path:
    """``path`` if it holds a loadable Hugging Face causal LM; else a :class:`CheckpointError`
    that names what is missing and what would be right. Reads file headers only (no model).

    ``tokenizer``/``chat_template``: the folder must also carry a tokenizer / a chat template;
    ``causal_lm``: its ``model_type`` must be one transformers loads as a causal LM.
    """
    path = Path(path)
    model_type = _require_config(path, what)
    if causal_lm:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise CheckpointError(f"{what} {path} is a {model_type!r} model, which is not a causal language "
                                  "model (expected a decoder such as olmo2 or llama)")
    check_checkpoint(path, what)
    if tokenizer and not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise CheckpointError(f"{what} {path} has no tokenizer ({', '.join(TOKENIZER_FILES)}); save the "
                              "tokenizer beside the weights (tokenizer.save_pretrained) or copy its files there")
    if chat_template and not has_chat_template(path):
        raise CheckpointError(f"{what} {path} has no chat template (chat_template.jinja or tokenizer_config.json), "
                              "but every prompt here is a chat; use an instruct model's tokenizer, such as "
                              "allenai/OLMo-2-1124-7B-Instruct's")
    return path


def hub_unreachable(err: BaseException) -> bool:
    """Whether ``err`` (or an exception it was raised from) means the Hugging Face hub could not be
    reached: offline mode (``HF_HUB_OFFLINE``) or no network, rather than a missing repository."""
    seen = 0
    while err is not None and seen < 10:
        if {c.__name__ for c in type(err).__mro__} & _UNREACHABLE or "OfflineModeIsEnabled" in str(err):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def offline_note() -> str:
    """``' (HF_HUB_OFFLINE is set)'`` when an offline switch is on, else ``''``: part of an error."""
    on = [v for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
          if os.environ.get(v, "").lower() in ("1", "true", "yes", "on")]
    return f" ({on[0]} is set)" if on else ""
