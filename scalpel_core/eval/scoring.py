"""Scores of any models on the paper's benchmarks, in either world, as tables with intervals.

    vectors, items = worlds.score_models({"base": base_dir, "grpo": ckpt_dir}, cfg)   # per-item vectors
    scores = scoring.score_table(vectors)        # model, benchmark, key, score, lo, hi, n
    changes = scoring.deltas(vectors)            # each model against the base, paired intervals

A model's results are, per benchmark key, the per-item ``(num, den)`` vectors whose sums give the
score (:func:`scalpel_core.eval.analogues.item_vectors` in the miniature world,
:func:`scalpel_core.eval.lmeval.evaluate` at paper scale).
"""

from __future__ import annotations

import pandas as pd

from . import stats

# Benchmark keys and display names, in the paper's order.
LABELS = {"aime24": "AIME24", "math500": "MATH-500", "gsm8k": "GSM8K", "gpqa": "GPQA:Diamond",
          "mmlu": "MMLU", "mmlu_pro": "MMLU-Pro", "ifeval_prompt": "IFEval (prompt)",
          "ifeval_inst": "IFEval (instruction)"}


def score_table(models: dict[str, dict]) -> pd.DataFrame:
    """Long table of ``model, benchmark, key, score, lo, hi, n`` with bootstrap 95% intervals.
    ``models`` maps a model name to its per-benchmark (num, den) vectors (:func:`~scalpel_core.eval.analogues.item_vectors`)."""
    rows = []
    for name, vectors in models.items():
        for key, (num, den) in vectors.items():
            lo, hi = stats.ci(num, den)
            rows.append({"model": name, "benchmark": LABELS[key], "key": key, "score": stats.score(num, den),
                         "lo": lo, "hi": hi, "n": len(num)})
    return pd.DataFrame(rows)


def deltas(models: dict[str, dict], reference: str = "base") -> pd.DataFrame:
    """Each model's change against ``reference`` per benchmark, with a paired bootstrap 95%
    interval (the same items resampled for both): ``model, key, delta, lo, hi``."""
    ref = models[reference]
    rows = []
    for name, vectors in models.items():
        if name == reference:
            continue
        for key, (num, den) in vectors.items():
            lo, hi = stats.paired_delta_ci(ref[key][0], num, den)
            rows.append({"model": name, "key": key, "delta": stats.score(num, den) - stats.score(*ref[key]),
                         "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


# How the claims group the benchmarks: the training distribution itself, maths in other forms,
# and general abilities (knowledge and instruction following), which reasoning training may erode.
GROUPS = {"in-domain (MATH-500)": ("math500",), "other maths (AIME24, GSM8K)": ("aime24", "gsm8k"),
          "general (MMLU, MMLU-Pro, GPQA, IFEval)": ("mmlu", "mmlu_pro", "gpqa", "ifeval_prompt", "ifeval_inst")}


def group_deltas(delta_table: pd.DataFrame) -> pd.DataFrame:
    """model x group: the mean change against the base over each group's benchmarks."""
    rows = {name: {g: delta_table[(delta_table.model == name) & delta_table.key.isin(keys)].delta.mean()
                   for g, keys in GROUPS.items()} for name in dict.fromkeys(delta_table.model)}
    return pd.DataFrame.from_dict(rows, orient="index")
