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


N_BOOT = 1000  # resamples of the seed-and-problem bootstrap of every pass@k interval here


def _resamples(n_seeds: int, n_problems: int, n_boot: int, seed: int = 0):
    """Seed and problem indices of the seed-and-problem bootstrap (seeds, then problems; one problem
    draw shared by the base, its second sampling and every seed, as all answer the same problems)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n_seeds, n_seeds), rng.integers(0, n_problems, n_problems)


def _interval(values) -> tuple[float, float]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return (float("nan"), float("nan")) if not len(v) else tuple(float(x) for x in np.percentile(v, [2.5, 97.5]))


def headroom_shrink(models: np.ndarray, base_pk: np.ndarray) -> float:
    """How much less of the base's remaining failures the model fixes at k = n than at k = 1:
    h(1) - h(n), with h(k) = (model pass@k - base pass@k) / (1 - base pass@k) (``models``: seeds x
    problems x ks). A model that only sharpens what the base can already reach fixes a smaller share
    of the base's failures at large k (h(n) near 0 or below: positive shrink); a model that learned
    to solve new problems keeps fixing them (no shrink). Normalising by the headroom keeps a base
    near pass@n = 1 from making the advantage's shrinkage automatic."""
    diff, base = passk.pooled_difference(models, base_pk), np.asarray(base_pk).mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = diff / (1.0 - base)
    return float(h[0] - h[-1])


def _against_base(base_pk: np.ndarray, pks: list, n: int, ks, n_boot: int, null_pk: np.ndarray | None = None) -> dict:
    """pass@1 and pass@n of a model (the mean over seeds and problems of ``pks``, one array per
    seed) and of the base, the advantage at both ends with seed-and-problem 95% intervals,
    :func:`~scalpel_core.eval.passk.crossing`'s fields, and the headroom shrink
    (:func:`headroom_shrink`) against the null of the base's own second sampling ``null_pk``
    (``shrink_excess`` = the model's shrink - the null's, with its interval)."""
    models = np.stack(pks)
    diff = passk.pooled_difference(models, base_pk)
    mean, base = models.mean((0, 1)), base_pk.mean(0)
    adv1, advn, excess = [], [], []
    null = None if null_pk is None else np.asarray(null_pk)[None]
    for s, p in _resamples(len(models), len(base_pk), n_boot):
        d = passk.pooled_difference(models[s][:, p], base_pk[p])
        adv1.append(d[0])
        advn.append(d[-1])
        if null is not None:
            excess.append(headroom_shrink(models[s][:, p], base_pk[p]) - headroom_shrink(null[:, p], base_pk[p]))
    out = {"problems": len(base_pk), "pass@1": mean[0], f"pass@{n}": mean[-1], "base pass@1": base[0],
           f"base pass@{n}": base[-1], "advantage@1": diff[0], f"advantage@{n}": diff[-1],
           "advantage@1 lo": _interval(adv1)[0], "advantage@1 hi": _interval(adv1)[1],
           f"advantage@{n} lo": _interval(advn)[0], f"advantage@{n} hi": _interval(advn)[1],
           "shrink": headroom_shrink(models, base_pk),
           **passk.crossing(base_pk, pks, ks, n_boot=n_boot)}
    if null is not None:
        out["shrink_null"] = headroom_shrink(null, base_pk)
        out["shrink_excess"] = out["shrink"] - out["shrink_null"]
        out["shrink_excess lo"], out["shrink_excess hi"] = _interval(excess)
    return out


def crossing_table(counts: dict, n: int, n_boot: int = N_BOOT, resampled: dict | None = None) -> pd.DataFrame:
    """Per method (seeds pooled, then each seed alone): pass@1 and pass@n of the model and the base,
    the advantage at both ends with intervals, the crossing k with its bootstrap interval
    (:func:`scalpel_core.eval.passk.crossing`; ``k`` empty: no crossing up to n), and, with the
    base's counts under another sampling seed (``resampled``), the headroom shrink against that null."""
    ks = passk.ks_for(n)
    base = passk.per_problem(counts[BASE]["correct"], n, ks)
    null = None if resampled is None else passk.per_problem(resampled["correct"], n, ks)
    rows = []
    methods = dict.fromkeys(_method(m) for m in counts if m != BASE)
    for method in methods:
        names = [m for m in counts if m != BASE and _method(m) == method]
        for seed, members in [(POOLED, names), *((str(seed_of(m)), [m]) for m in names)]:
            pks = [passk.per_problem(counts[m]["correct"], n, ks) for m in members]
            rows.append({"method": method, "seed": seed, **_against_base(base, pks, n, ks, n_boot, null)})
    return pd.DataFrame(rows)


FLOOR = "noise floor"  # the seed label of the row of the base against its own second sampling


def excess_gained(base_correct, model_corrects: list, resampled_correct, n_boot: int = N_BOOT) -> dict:
    """Problems gained beyond chance: the share a model gains against the base (the mean over its
    seeds) minus the share the base gains against its own second sampling (the noise floor), with
    a seed-and-problem 95% interval (one problem draw for the model, the base and its resample)."""
    base, again = np.asarray(base_correct) > 0, np.asarray(resampled_correct) > 0
    models = np.stack([np.asarray(c) > 0 for c in model_corrects])
    floor = (again & ~base).astype(float)
    gained = (models & ~base[None]).astype(float)
    point = float(gained.mean() - floor.mean())
    draws = [gained[s][:, p].mean() - floor[p].mean() for s, p in _resamples(len(models), len(base), n_boot)]
    lo, hi = _interval(draws)
    return {"excess_gained": point, "excess_lo": lo, "excess_hi": hi, "floor_gained": float(floor.mean())}


def gained_lost_table(counts: dict, resampled: dict | None = None, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Per model, and per method pooled (the mean over seeds, with their min and max): the share of
    problems it solves at least once and the base never does in the same number of samples
    ("gained"), and the reverse ("lost"). ``resampled``: the base's counts under another sampling
    seed, giving a row (seed :data:`FLOOR`) with what an unchanged model gains and loses by chance,
    and on every model's and method's row the gain beyond that floor with its interval
    (:func:`excess_gained`)."""
    rows = []
    if resampled is not None:
        g, lost = passk.gained_lost(counts[BASE]["correct"], resampled["correct"])
        rows.append({"model": "base, another sampling seed", "method": BASE, "seed": FLOOR, "gained": g, "lost": lost})
    for name, c in counts.items():
        if name == BASE:
            continue
        g, lost = passk.gained_lost(counts[BASE]["correct"], c["correct"])
        row = {"model": name, "method": _method(name), "seed": str(seed_of(name)), "gained": g, "lost": lost}
        if resampled is not None:
            row |= excess_gained(counts[BASE]["correct"], [c["correct"]], resampled["correct"], n_boot)
        rows.append(row)
    table = pd.DataFrame(rows)
    pooled = table[table.seed != FLOOR].groupby("method", sort=False).agg(gained=("gained", "mean"), lost=("lost", "mean"),
                                                     gained_min=("gained", "min"), gained_max=("gained", "max"),
                                                     lost_min=("lost", "min"), lost_max=("lost", "max")).reset_index()
    pooled = pooled.assign(model=pooled.method, seed=POOLED)
    if resampled is not None:
        extra = [excess_gained(counts[BASE]["correct"], [c["correct"] for m, c in counts.items()
                                                          if m != BASE and _method(m) == method],
                               resampled["correct"], n_boot) for method in pooled.method]
        pooled = pd.concat([pooled, pd.DataFrame(extra)], axis=1)
    return pd.concat([table, pooled], ignore_index=True)


def compare(counts: dict, n: int, base: str = BASE, n_boot: int = N_BOOT) -> pd.DataFrame:
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
