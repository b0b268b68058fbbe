"""Amplify or replace, read from pass@k (notebook 07): curves, crossings, problems gained and lost.

    counts = {"base": passk.counts_folder(base, items, 32, ...), "grpo-s0": ..., ...}
    curves = amplify.curve_table(counts, n=32)        # model, method, seed, k, pass_at_k
    amplify.crossing_table(counts, n=32)              # per method: where its advantage over the base changes sign
    amplify.gained_lost_table(counts)                 # per model and pooled: problems gained and lost
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..eval import passk
from ..train.runs import method_of, seed_of

BASE = "base"
POOLED = "pooled"
NAMES = {"base": "base", "grpo": "GRPO", "sft1ep": "SFT-1ep", "sft3ep": "SFT-3ep"}
COLORS = {"base": "0.35", "grpo": "tab:blue", "sft1ep": "tab:orange", "sft3ep": "tab:red"}


def _method(name: str) -> str:
    return BASE if name == BASE else method_of(name)


def curve_table(counts: dict, n: int) -> pd.DataFrame:
    """``model, method, seed, k, pass_at_k``: the mean pass@k over problems of every model
    (``counts``: model name -> :func:`~scalpel_core.eval.passk.counts_folder` result)."""
    ks = passk.ks_for(n)
    rows = []
    for name, c in counts.items():
        for k, v in zip(ks, passk.curve(c["correct"], n, ks)):
            rows.append({"model": name, "method": _method(name), "seed": "" if name == BASE else str(seed_of(name)),
                         "k": k, "pass_at_k": float(v)})
    return pd.DataFrame(rows)


def _against_base(base_pk: np.ndarray, pks: list, n: int, ks, n_boot: int) -> dict:
    """pass@1 and pass@n of a model (the mean over ``pks``, one per seed) and of the base, the
    advantage at both ends, and :func:`~scalpel_core.eval.passk.crossing`'s fields."""
    mean, base = np.mean([p.mean(0) for p in pks], axis=0), base_pk.mean(0)
    return {"problems": len(base_pk), "pass@1": mean[0], f"pass@{n}": mean[-1], "base pass@1": base[0],
            f"base pass@{n}": base[-1], "advantage@1": mean[0] - base[0], f"advantage@{n}": mean[-1] - base[-1],
            **passk.crossing(base_pk, pks, ks, n_boot=n_boot)}


def crossing_table(counts: dict, n: int, n_boot: int = 1000) -> pd.DataFrame:
    """Per method (seeds pooled, then each seed alone): pass@1 and pass@n of the model and the base,
    the advantage at both ends, and the crossing k with its bootstrap interval
    (:func:`scalpel_core.eval.passk.crossing`; ``k`` empty: no crossing up to n)."""
    ks = passk.ks_for(n)
    base = passk.per_problem(counts[BASE]["correct"], n, ks)
    rows = []
    methods = dict.fromkeys(_method(m) for m in counts if m != BASE)
    for method in methods:
        names = [m for m in counts if m != BASE and _method(m) == method]
        for seed, members in [(POOLED, names), *((str(seed_of(m)), [m]) for m in names)]:
            pks = [passk.per_problem(counts[m]["correct"], n, ks) for m in members]
            rows.append({"method": method, "seed": seed, **_against_base(base, pks, n, ks, n_boot)})
    return pd.DataFrame(rows)


FLOOR = "noise floor"  # the seed label of the row of the base against its own second sampling


def gained_lost_table(counts: dict, resampled: dict | None = None) -> pd.DataFrame:
    """Per model, and per method pooled (the mean over seeds, with their min and max): the share of
    problems it solves at least once and the base never does in the same number of samples
    ("gained"), and the reverse ("lost"). ``resampled``: the base's counts under another sampling
    seed, giving a row (seed :data:`FLOOR`) with what an unchanged model gains and loses by chance."""
    rows = []
    if resampled is not None:
        g, lost = passk.gained_lost(counts[BASE]["correct"], resampled["correct"])
        rows.append({"model": "base, another sampling seed", "method": BASE, "seed": FLOOR, "gained": g, "lost": lost})
    for name, c in counts.items():
        if name == BASE:
            continue
        g, lost = passk.gained_lost(counts[BASE]["correct"], c["correct"])
        rows.append({"model": name, "method": _method(name), "seed": str(seed_of(name)), "gained": g, "lost": lost})
    table = pd.DataFrame(rows)
    pooled = table[table.seed != FLOOR].groupby("method", sort=False).agg(gained=("gained", "mean"), lost=("lost", "mean"),
                                                     gained_min=("gained", "min"), gained_max=("gained", "max"),
                                                     lost_min=("lost", "min"), lost_max=("lost", "max")).reset_index()
    pooled = pooled.assign(model=pooled.method, seed=POOLED)
    return pd.concat([table, pooled], ignore_index=True)


def compare(counts: dict, n: int, base: str = BASE, n_boot: int = 1000) -> pd.DataFrame:
    """One row per model of ``counts`` other than ``base`` (any labels: anyone's checkpoints):
    pass@1 and pass@n beside the base's and the advantage, the crossing k with its bootstrap
    interval, and the shares of problems gained and lost (``scalpel passk``)."""
    ks = passk.ks_for(n)
    ref = passk.per_problem(counts[base]["correct"], n, ks)
    rows = []
    for name, c in counts.items():
        if name == base:
            continue
        g, lost = passk.gained_lost(counts[base]["correct"], c["correct"])
        rows.append({"model": name, **_against_base(ref, [passk.per_problem(c["correct"], n, ks)], n, ks, n_boot),
                     "gained": g, "lost": lost, "mean tokens": c.get("tokens")})
    return pd.DataFrame(rows)


def _label_k(cross: pd.Series, n: int) -> str:
    if cross["k"] is None or pd.isna(cross["k"]):
        return f"no crossing up to {n}"
    lo = "?" if cross["lo"] is None or pd.isna(cross["lo"]) else int(cross["lo"])
    hi = f">{n}" if cross["hi"] is None or pd.isna(cross["hi"]) else int(cross["hi"])
    return f"crosses at k={int(cross['k'])} [{lo}, {hi}]"


def passk_figure(curves: pd.DataFrame, crossings: pd.DataFrame, n: int,
                 title: str = "pass@k on the MATH-500 analogue (T = 0.6, top-p 0.95)"):
    """Left: the curves (the mean over seeds, the band spans the seeds). Right: each method's
    advantage over the base per k, with its crossing k and bootstrap interval."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    base = curves[curves.method == BASE].set_index("k").pass_at_k
    for method, t in curves.groupby("method", sort=False):
        by_k = t.groupby("k").pass_at_k
        mean, lo, hi = by_k.mean(), by_k.min(), by_k.max()
        color = COLORS.get(method)
        ax.plot(mean.index, mean.values, marker="o", ms=3, color=color, label=NAMES.get(method, method))
        if method != BASE:
            ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.2, lw=0)
            cross = crossings[(crossings.method == method) & (crossings.seed == POOLED)].iloc[0]
            bx.plot(mean.index, (mean - base).values, marker="o", ms=3, color=color,
                    label=f"{NAMES.get(method, method)}: {_label_k(cross, n)}")
            bx.fill_between(mean.index, (lo - base).values, (hi - base).values, color=color, alpha=0.2, lw=0)
    for a in (ax, bx):
        a.set_xscale("log", base=2)
        a.set_xlabel("k (samples per problem)")
    bx.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("pass@k")
    bx.set_ylabel("pass@k − base pass@k")
    ax.legend(fontsize=8)
    bx.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gained_lost_figure(table: pd.DataFrame, n: int,
                       title: str = "Problems gained and lost against the base"):
    """Bars per method (the mean over seeds; dots: each seed) of the share of problems gained
    (solved at least once in n samples, never by the base) and lost (the reverse)."""
    per = table[~table.seed.isin([POOLED, FLOOR])]
    pooled = table[table.seed == POOLED].set_index("method")
    floor = table[table.seed == FLOOR]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    methods = list(pooled.index)
    x = np.arange(len(methods))
    palette = sns.color_palette("deep")
    for j, (what, sign) in enumerate((("gained", 1), ("lost", -1))):
        ax.bar(x + (j - 0.5) * 0.38, pooled[what].values, 0.38, color=palette[2 if sign > 0 else 3],
               label=f"{what} (never solved by the {'base' if sign > 0 else 'model'} in {n} samples)")
        for i, m in enumerate(methods):
            v = per[per.method == m][what]
            ax.scatter(np.full(len(v), x[i] + (j - 0.5) * 0.38), v, color="black", s=10, zorder=3)
    for what, color in (("gained", palette[2]), ("lost", palette[3])):
        for v in floor[what]:  # an unchanged model, by chance: the base against its own second sampling
            ax.axhline(v, color=color, ls="--", lw=1, label=f"{what} by the base against itself (another seed)")
    ax.set_xticks(x, [NAMES.get(m, m) for m in methods])
    ax.set_ylabel("share of problems")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig
