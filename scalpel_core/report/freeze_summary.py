"""The freeze ablation in numbers and words (notebook 02, claim 6).

- :func:`frozen_cells`: the (layer, matrix) cells a run's trainable spec froze, from its recorded config;
- :func:`frozen_changes`: the largest change of each frozen cell over all checkpoints (must be exactly 0);
- :func:`effects`: per ablation and benchmark, whether freezing helped, hurt or made no significant
  difference against full SFT (paired bootstrap 95% interval of the difference);
- :func:`describe`: those effects as sentences, computed from the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..arch import MATRICES, weight_name
from ..eval.scoring import LABELS
from ..train.freeze import is_trainable, parse_layers
from ..train.runs import RUN_CONFIG
SPEC_LABELS = {"attention": "only attention (q, k, v, o) trained", "qk": "only q and k trained",
               "qk+lm_head": "only q, k and lm_head trained",
               "frozen-mid-mlp": "mid-layer MLPs frozen", "all": "nothing frozen"}


def frozen_cells(run_dir: Path, n_layers: int) -> set[tuple[int, str]]:
    """(layer, matrix) cells the run's spec froze (``trainable`` and ``frozen_layers`` of its config)."""
    config = json.loads((Path(run_dir) / RUN_CONFIG).read_text())
    spec = config.get("trainable", "all")
    layers = parse_layers(config.get("frozen_layers", ""), n_layers) if spec == "frozen-mid-mlp" else (0, -1)
    return {(layer, m) for layer in range(n_layers) for m in MATRICES
            if not is_trainable(weight_name(layer, m), spec, layers)}


def frozen_changes(table: pd.DataFrame, run_dirs: dict[str, Path]) -> pd.DataFrame:
    """Per run: how many cells its spec froze, how many trained, and the largest change of any
    frozen cell over every checkpoint and metric (exactly 0.0 when freezing worked)."""
    rows = []
    for run, directory in run_dirs.items():
        t = table[table.run == run]
        cells = frozen_cells(directory, t.layer.nunique())
        is_frozen = [(layer, m) in cells for layer, m in zip(t.layer, t.matrix)]
        frozen, trained = t[is_frozen], t[[not f for f in is_frozen]]
        rows.append({"run": run, "frozen cells": len(cells), "trained cells": trained[["layer", "matrix"]]
                     .drop_duplicates().shape[0], "checkpoints": t.checkpoint.nunique(),
                     "largest change of a frozen cell": float(frozen.value.abs().max()) if len(frozen) else 0.0,
                     "smallest final change of a trained cell": float(
                         trained[trained.fraction == trained.fraction.max()].value.min()) if len(trained) else 0.0})
    return pd.DataFrame(rows).set_index("run")


def effects(delta_table: pd.DataFrame) -> pd.DataFrame:
    """``scoring.deltas(..., reference=full)`` with an ``effect`` column: ``helped`` when the
    paired interval of (ablation - full) lies above 0, ``hurt`` below 0, else ``no significant change``."""
    t = delta_table.copy()
    t["effect"] = ["helped" if lo > 0 else "hurt" if hi < 0 else "no significant change" for lo, hi in zip(t.lo, t.hi)]
    t["benchmark"] = t.key.map(LABELS)
    return t


def describe(effect_table: pd.DataFrame, labels: dict[str, str], full_label: str) -> list[str]:
    """One sentence per ablation, and one overall, from :func:`effects`."""
    lines, mixed, uniform = [], [], []
    for model in dict.fromkeys(effect_table.model):
        t = effect_table[effect_table.model == model]

        def listed(kind):
            s = t[t.effect == kind]
            return ", ".join(f"{r.benchmark} ({r.delta:+.3f})" for r in s.itertuples())
        helped, hurt, same = listed("helped"), listed("hurt"), t[t.effect == "no significant change"]
        parts = [f"helped {helped}" if helped else "helped no benchmark",
                 f"hurt {hurt}" if hurt else "hurt none"]
        tail = f"; no significant change on {len(same)} of {len(t)}" if len(same) else ""
        lines.append(f"{labels.get(model, model)}, against {full_label}: " + " and ".join(parts) + tail + ".")
        if helped and hurt:
            mixed.append(labels.get(model, model))
        elif helped or hurt:
            uniform.append(f"{labels.get(model, model)} ({'helped' if helped else 'hurt'} only)")
    if mixed:
        lines.append(f"Mixed (helped some benchmarks, hurt others): {', '.join(mixed)}.")
    if uniform:
        lines.append(f"One-sided: {', '.join(uniform)}.")
    if not mixed and not uniform:
        lines.append("No freezing strategy changed any benchmark significantly.")
    return lines


def seed_effects(vectors: dict, pairs: dict) -> pd.DataFrame:
    """:func:`effects` of each ablation against full SFT-3ep at every seed and pooled over seeds.

    ``vectors``: run -> per-benchmark (num, den) vectors; ``pairs``: ablation model name -> {seed:
    (ablation run, full run of the same seed)}. Each seed's rows pair the ablation with the full run
    of its own seed (paired item bootstrap); the pooled rows (seed ``"pooled"``) are the mean over
    seeds of those paired differences with the two-stage seed-and-item interval, so the spread
    between training seeds is in the interval."""
    import numpy as np

    from ..eval import stats

    rows = []
    for model, by_seed in pairs.items():
        runs = list(by_seed.values())
        for seed, (ablation, full) in by_seed.items():
            for key, (num, den) in vectors[ablation].items():
                ref = vectors[full][key][0]
                lo, hi = stats.paired_delta_ci(ref, num, den)
                rows.append({"model": model, "key": key, "seed": str(seed), "lo": lo, "hi": hi,
                             "delta": stats.score(num, den) - stats.score(ref, den)})
        for key in vectors[runs[0][0]]:
            diff = [np.asarray(vectors[a][key][0], float) - np.asarray(vectors[f][key][0], float) for a, f in runs]
            den = [vectors[a][key][1] for a, _ in runs]
            lo, hi = stats.seed_item_ci(diff, den)
            rows.append({"model": model, "key": key, "seed": "pooled", "delta": stats.seed_score(diff, den),
                         "lo": lo, "hi": hi})
    return effects(pd.DataFrame(rows))
