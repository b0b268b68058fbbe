"""Run identity: run ids, run folders, and the guard that never overwrites another run.

A run folder records the config that made it (``run_config.json``). Training into a
folder that holds a different config is refused with the differing keys named, unless
the caller asks to overwrite; the same config resumes or reuses the finished run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import paths, worlds
from ..cache import json_hash
from ..checkpoints import MANIFEST, CheckpointError, read_manifest, write_json
from ..config import EVAL_ONLY, GRPO_ONLY, METHODS, SFT_ONLY, Config, ScalpelError

RUN_CONFIG = "run_config.json"


class RunExistsError(ScalpelError, RuntimeError):
    """The run folder already holds a run with a different config."""


def lr_tag(factor: float) -> str:
    """The run-id part of a learning-rate factor: ``""`` at 1, else ``-lr{factor}x`` (``-lr3x``, ``-lr0.2x``)."""
    return "" if factor == 1 else f"-lr{factor:g}x"


def run_id(cfg: Config) -> str:
    """``{method}[-{trainable}][-lr{factor}x]-s{train_seed}``, e.g. ``grpo-s0``, ``sft3ep-attention-s0``,
    ``grpo-lr3x-s0`` (:func:`lr_tag`)."""
    spec = "" if cfg.trainable == "all" else f"-{cfg.trainable}"
    return f"{cfg.method}{spec}{lr_tag(cfg.lr_factor)}-s{cfg.train_seed}"


def lr_factor_of(run: str) -> float:
    """The learning-rate factor of a run id: ``grpo-lr3x-s0`` -> 3.0, ``grpo-s0`` -> 1.0."""
    head, _, tag = model_name(run).rpartition("-lr")
    try:
        return float(tag[:-1]) if head and tag.endswith("x") else 1.0
    except ValueError:
        return 1.0


def seeds(cfg: Config) -> list[int]:
    """The training seeds of the plan's runs: ``train_seed`` and the ``n_seeds - 1`` after it."""
    return [cfg.train_seed + i for i in range(cfg.n_seeds)]


def main_run_ids(cfg: Config) -> list[str]:
    """The paper's three runs at every seed of :func:`seeds`, method by method:
    ``grpo-s0, grpo-s1, ..., sft3ep-s2``."""
    return [f"{m}-s{s}" for m in METHODS for s in seeds(cfg)]


def seed_of(run: str) -> int | None:
    """The training seed of a run id (``grpo-s1`` -> 1), or None for an id without one."""
    head, _, seed = run.rpartition("-s")
    return int(seed) if head and seed.isdigit() else None


def method_of(run: str) -> str:
    """The method of a run id: ``sft3ep-attention-s0`` -> ``sft3ep``."""
    return run.split("-")[0]


def model_name(run: str) -> str:
    """A run id without its seed, the name its final model goes by: ``sft3ep-qk-s0`` -> ``sft3ep-qk``."""
    head, _, seed = run.rpartition("-s")
    return head if head and seed.isdigit() else run


def spec_of(run: str) -> str:
    """The trainable spec of a run id: ``sft3ep-frozen-mid-mlp-s0`` -> ``frozen-mid-mlp``, ``grpo-s0`` -> ``all``
    (a learning-rate tag is not part of it: ``grpo-lr3x-s0`` -> ``all``)."""
    name = model_name(run)
    tag = lr_tag(lr_factor_of(run))
    name = name[: -len(tag)] if tag and name.endswith(tag) else name
    return name.partition("-")[2] or "all"


def run_dir(cfg: Config, run: str | None = None) -> Path:
    return paths.artifacts_dir() / cfg.preset / (run or run_id(cfg))


def run_config(cfg: Config, trl_args: dict | None = None) -> dict:
    """The settings that define what a run trains (method-specific keys only for their method)."""
    skip = set(EVAL_ONLY) | set(GRPO_ONLY if cfg.method != "grpo" else SFT_ONLY)
    if cfg.trainable != "frozen-mid-mlp":
        skip.add("frozen_layers")  # the layer range of the one spec that reads it
    if cfg.method != "sft1ep" or not cfg.sft1ep_steps:
        skip.add("sft1ep_steps")  # 0 (GRPO's steps) keeps the identity runs had before the field existed
    if cfg.lr_factor == 1:
        skip.add("lr_factor")  # the paper's settings keep the identity they had before the factor existed
    data = {k: v for k, v in cfg.to_dict().items() if k not in skip}
    data |= worlds.base_identity(cfg)
    data["trl_args"] = dict(sorted((trl_args or {}).items()))
    return data


def config_hash(config: dict) -> str:
    return json_hash(config, 12)


def _differences(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k, '<unset>')!r} there, {new.get(k, '<unset>')!r} now"
             for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs[:6]) + (f"; and {len(diffs) - 6} more" if len(diffs) > 6 else "")


def prepare(directory: Path, config: dict, overwrite: bool = False) -> str:
    """Claim ``directory`` for a run with ``config``; returns ``"new"``, ``"resume"`` or ``"done"``.

    Raises :class:`RunExistsError` if it holds anything else, unless ``overwrite``.
    """
    directory = Path(directory)
    record = directory / RUN_CONFIG
    if directory.exists() and any(directory.iterdir()):
        if record.is_file():
            try:
                old = json.loads(record.read_text())
            except json.JSONDecodeError:
                old = {"<unreadable run_config.json>": True}
        else:
            old = None
        if old == config and not overwrite:
            manifest = directory / MANIFEST
            done = manifest.is_file() and json.loads(manifest.read_text()).get("complete", False)
            return "done" if done else "resume"
        if not overwrite:
            what = (f"a run with a different config ({_differences(old, config)})" if old is not None
                    else f"files that are not a run of this project (no {RUN_CONFIG})")
            raise RunExistsError(
                f"run folder {directory} already holds {what}. Nothing was changed. Choose another "
                "run id or train_seed, move the folder away, or pass overwrite=True "
                "(scalpel train --overwrite) to delete it and train from scratch.")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(record, config)
    return "new"


def finished(preset: str, run: str) -> Path:
    """The folder of a finished run, or a :class:`~scalpel_core.checkpoints.CheckpointError` that
    says how to train or resume it."""
    directory = paths.artifacts_dir() / preset / run
    method, spec, factor = method_of(run), spec_of(run), lr_factor_of(run)
    nb_args = (f"preset={preset!r}, method={method!r}" + (f", trainable={spec!r}" if spec != "all" else "")
               + (f", overrides={{'lr_factor': {factor:g}}}" if factor != 1 else ""))
    cli_args = (f"--preset {preset} --method {method}" + (f" --trainable {spec}" if spec != "all" else "")
                + (f" --lr-factor {factor:g}" if factor != 1 else ""))
    how = f"train it with notebooks/01_training.ipynb ({nb_args}) or `scalpel train {cli_args}`"
    if not (directory / MANIFEST).is_file():
        raise CheckpointError(f"run {run!r} of preset {preset!r} not found at {directory}: {how}")
    if not read_manifest(directory).get("complete"):
        raise CheckpointError(f"run {run!r} at {directory} is unfinished; the same command resumes it: {how}")
    return directory
