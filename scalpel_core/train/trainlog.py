"""A run's training log (the trainer's per-step metrics) as a table, and its summaries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..checkpoints import CheckpointError


def train_log(run_dir: Path) -> pd.DataFrame:
    """One row per optimizer step: loss, grad_norm, learning_rate, and for GRPO ``reward``,
    ``rewards/{function}/mean``, ``completions/mean_length``, ``entropy``."""
    path = Path(run_dir) / "train_log.json"
    if not path.is_file():
        raise CheckpointError(f"no training log at {path}; train the run first (scalpel train)")
    rows = [e for e in json.loads(path.read_text()) if "loss" in e]
    if not rows:
        raise CheckpointError(f"{path} holds no training steps")
    return pd.DataFrame(rows)


def first_last(log: pd.DataFrame, column: str = "reward", share: float = 0.1) -> dict:
    """Mean of ``column`` over the first and the last ``share`` of the steps, with the
    least-squares slope over the whole run (per 100% of training) as a noise-robust trend."""
    if column not in log:
        raise KeyError(f"the training log has no {column!r} column; it has {', '.join(log.columns)}")
    values = log[column].to_numpy(dtype=float)
    k = max(1, round(share * len(values)))
    fraction = np.arange(1, len(values) + 1) / len(values)
    slope = float(np.polyfit(fraction, values, 1)[0]) if len(values) > 1 else 0.0
    return {"column": column, "steps_each": k, "first": float(values[:k].mean()),
            "last": float(values[-k:].mean()), "slope_per_run": slope}
