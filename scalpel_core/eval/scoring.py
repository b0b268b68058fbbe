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
# Retention scores (scalpel_core.eval.analogues.RETENTION): continuous, higher is better, in nats.
RETENTION_LABELS = {"aime24_ll": "AIME24 gold (log-lik/token)", "math500_ll": "MATH-500 gold (log-lik/token)",
                    "gsm8k_ll": "GSM8K gold (log-lik/token)", "gpqa_margin": "GPQA:Diamond (gold margin)",
                    "mmlu_margin": "MMLU (gold margin)", "mmlu_pro_margin": "MMLU-Pro (gold margin)",
                    "ifeval_ll": "IFEval gold (log-lik/token)", "heldout_ll": "held-out text (log-lik/token)"}
GENERAL = ("mmlu", "mmlu_pro", "gpqa", "ifeval_prompt", "ifeval_inst")  # out of domain: knowledge, instructions
GENERAL_RETENTION = ("mmlu_margin", "mmlu_pro_margin", "gpqa_margin", "ifeval_ll", "heldout_ll")


def label(key: str) -> str:
    """The display name of a benchmark or retention key."""
    return LABELS.get(key) or RETENTION_LABELS.get(key, key)


def score_table(models: dict[str, dict]) -> pd.DataFrame:
    """Long table of ``model, benchmark, key, score, lo, hi, n`` with bootstrap 95% intervals.
    ``models`` maps a model name to its per-benchmark (num, den) vectors (:func:`~scalpel_core.eval.analogues.item_vectors`)."""
    rows = []
    for name, vectors in models.items():
        for key, (num, den) in vectors.items():
            lo, hi = stats.ci(num, den)
            rows.append({"model": name, "benchmark": label(key), "key": key, "score": stats.score(num, den),
                         "lo": lo, "hi": hi, "n": len(num)})
    return pd.DataFrame(rows)


def deltas(models: dict[str, dict], reference: str = "base") -> pd.DataFrame:
    """Each model's change against ``reference`` per benchmark, with a paired bootstrap 95%
    interval (the same items resampled for both) and its two-sided bootstrap p-value
    (:func:`scalpel_core.eval.stats.p_value`, for multiple-comparison corrections):
    ``model, key, delta, lo, hi, p``."""
    ref = models[reference]
    rows = []
    for name, vectors in models.items():
        if name == reference:
            continue
        for key, (num, den) in vectors.items():
            lo, hi = stats.paired_delta_ci(ref[key][0], num, den)
            rows.append({"model": name, "key": key, "delta": stats.score(num, den) - stats.score(*ref[key]),
                         "lo": lo, "hi": hi, "p": stats.paired_delta_p(ref[key][0], num, den)})
    return pd.DataFrame(rows)


# How the claims group the benchmarks: the training distribution itself, maths in other forms,
# and general abilities (knowledge and instruction following), which reasoning training may erode.
GROUPS = {"in-domain (MATH-500)": ("math500",), "other maths (AIME24, GSM8K)": ("aime24", "gsm8k"),
          "general (MMLU, MMLU-Pro, GPQA, IFEval)": GENERAL,
          "general retention (nats)": GENERAL_RETENTION}


def group_deltas(delta_table: pd.DataFrame) -> pd.DataFrame:
    """model x group: the mean change against the base over each group's benchmarks."""
    rows = {name: {g: delta_table[(delta_table.model == name) & delta_table.key.isin(keys)].delta.mean()
                   for g, keys in GROUPS.items()} for name in dict.fromkeys(delta_table.model)}
    return pd.DataFrame.from_dict(rows, orient="index")


def seed_tables(models: dict[str, dict], groups: dict[str, tuple[str, int]],
                reference: str = "base") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and changes of trained models at several training seeds: ``(scores, deltas)``.

    ``models`` maps a model name to its per-benchmark (num, den) vectors, as :func:`score_table`;
    ``groups`` maps each trained model's name to ``(method, seed)``. Both tables have a ``seed``
    column (a string): each seed's own rows (the interval over items, the change paired with the
    reference), and per method one ``"pooled"`` row: the mean over seeds, with the two-stage
    seed-and-item bootstrap 95% interval (:func:`scalpel_core.eval.stats.seed_item_ci`). The
    reference (one model, shared by every seed) appears once, as ``"pooled"``; ``model`` holds the
    method (or the reference's name)."""
    ref = models[reference]
    scores = score_table({reference: ref}).assign(seed="pooled")
    per_seed = [score_table({name: models[name]}).assign(model=m, seed=str(s)) for name, (m, s) in groups.items()]
    changes = [deltas({reference: ref, name: models[name]}, reference).assign(model=m, seed=str(s))
               for name, (m, s) in groups.items()]
    pooled_scores, pooled_deltas = [], []
    for method in dict.fromkeys(m for m, _ in groups.values()):
        names = [n for n, (m, _) in groups.items() if m == method]
        for key in models[names[0]]:
            num = [models[n][key][0] for n in names]
            den = [models[n][key][1] for n in names]
            lo, hi = stats.seed_item_ci(num, den)
            pooled_scores.append({"model": method, "benchmark": label(key), "key": key,
                                  "score": stats.seed_score(num, den), "lo": lo, "hi": hi, "n": len(num[0]),
                                  "seed": "pooled"})
            lo, hi = stats.seed_item_ci(num, den, base=ref[key][0])
            pooled_deltas.append({"model": method, "key": key, "delta": stats.seed_score(num, den, base=ref[key][0]),
                                  "lo": lo, "hi": hi, "p": stats.seed_item_p(num, den, base=ref[key][0]),
                                  "seed": "pooled"})
    scores = pd.concat([scores, *per_seed, pd.DataFrame(pooled_scores)], ignore_index=True)
    return scores, pd.concat([*changes, pd.DataFrame(pooled_deltas)], ignore_index=True)


EFFECTS = {"in_domain": ("math500",), "ood_accuracy": GENERAL, "ood_retention": GENERAL_RETENTION}


def effect_table(models: dict[str, dict], groups: dict[str, tuple[str, int]], reference: str = "base") -> pd.DataFrame:
    """The effect sizes the paper's abstract reports: per method (its seeds pooled) and outcome of
    :data:`EFFECTS` (in domain; out of domain in accuracy and in retention), the mean change against
    ``reference`` over the outcome's benchmarks, in their own units (accuracy; nats), with the
    two-stage seed-and-item 95% interval (:func:`scalpel_core.eval.stats.seed_item_mean_change`):
    ``method, outcome, delta, lo, hi, benchmarks, seeds``. Outcomes without scores are left out."""
    ref = models[reference]
    rows = []
    for method in dict.fromkeys(m for m, _ in groups.values()):
        names = [n for n, (m, _) in groups.items() if m == method]
        for outcome, keys in EFFECTS.items():
            keys = [k for k in keys if k in ref and all(k in models[n] for n in names)]
            if not keys:
                continue
            parts = [([models[n][k][0] for n in names], [models[n][k][1] for n in names], ref[k][0]) for k in keys]
            delta, lo, hi = stats.seed_item_mean_change(parts)
            rows.append({"method": method, "outcome": outcome, "delta": delta, "lo": lo, "hi": hi,
                         "benchmarks": len(keys), "seeds": len(names)})
    return pd.DataFrame(rows)


def pooled(table: pd.DataFrame) -> pd.DataFrame:
    """The ``"pooled"`` rows of a :func:`seed_tables` table (the reference's included)."""
    return table[table.seed.astype(str) == "pooled"]
