"""Inside the model (notebook 06 and ``scalpel report``): summaries and figures of update sparsity,
update rank, principal-subspace rotation, spectrum shift and attention shift.

    sp = inside.final(sparsity_table)                     # each run's last checkpoint
    fig = inside.matrix_bars(sp, weights.SPARSITY, "fraction of entries")
    rho = inside.layer_correlation(attention_table, weight_table, run)

Runs are grouped by :func:`scalpel_core.train.runs.model_name` (a run id without its seed), so
the seeds of one method share a bar (the mean) and show as dots; checkpoints of anyone else's
run are groups of their own.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..arch import MATRICES
from ..lenses import spectra
from ..train.runs import model_name
from .plots import RUN_COLORS, RUN_LABELS

QK = ("q", "k")
LABELS = {"frac_unchanged": "bitwise unchanged (stored dtype)", "frac_unchanged_bf16": "unchanged in bf16",
          "frac_within_tol": "within 1e-3 relative", "rank_fraction": "rank(ΔW) / min(m, n)",
          "effective_rank_fraction": "effective rank (99% energy) / min(m, n)",
          "spectrum_shift": "spectrum shift ‖Δσ‖ / ‖σ‖"}
ROTATION = "left_angle_max@5%"  # the rotation the claims and the summary quote (r = 5% of min(m, n))


def final(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last checkpoint."""
    return table[table.fraction == table.groupby("run").fraction.transform("max")]


def group_of(run: str) -> str:
    return model_name(run)


def label_of(group: str) -> str:
    return RUN_LABELS.get(group, group)


def per_run(table: pd.DataFrame, metric: str, matrices=MATRICES) -> pd.Series:
    """run -> the mean over layers and ``matrices`` of ``metric`` at the run's last checkpoint."""
    f = final(table)
    f = f[(f.metric == metric) & f.matrix.isin(matrices)]
    return f.groupby("run", sort=False).value.mean()


def by_group(values: pd.Series) -> pd.DataFrame:
    """A per-run series as group, mean over the group's runs (seeds), min, max, n."""
    g = values.groupby(values.index.map(group_of), sort=False)
    return pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max(), "n": g.size()})


def summary(sparsity: pd.DataFrame, spectra_table: pd.DataFrame) -> pd.DataFrame:
    """group x (sparsity, rank, rotation, spectrum shift): means over layers, matrices and seeds
    at the last checkpoint, the numbers the claims and the paper quote."""
    cols = {}
    for m in ("frac_unchanged", "frac_unchanged_bf16", "frac_within_tol"):
        cols[m] = by_group(per_run(sparsity, m))["mean"]
    for m in ("rank_fraction", "effective_rank_fraction", ROTATION, "left_angle_mean@5%", "spectrum_shift"):
        cols[m] = by_group(per_run(spectra_table, m))["mean"]
    return pd.DataFrame(cols).rename_axis("model")


def matrix_bars(table: pd.DataFrame, metrics, ylabel: str = "", title: str = "", log: bool = False):
    """One panel per metric: per matrix type, per group, the mean over layers at the last
    checkpoint, averaged over the group's seeds (bar), each seed a dot."""
    f = final(table)
    groups = list(dict.fromkeys(group_of(r) for r in f.run))
    width = 0.8 / max(1, len(groups))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        runs = f[f.metric == metric].pivot_table(index="run", columns="matrix", values="value")
        runs = runs[[m for m in MATRICES if m in runs.columns]]
        for j, g in enumerate(groups):
            rows = runs[[group_of(r) == g for r in runs.index]]
            x = np.arange(runs.shape[1]) + (j - (len(groups) - 1) / 2) * width
            n = len(rows)
            ax.bar(x, rows.mean(), width, color=RUN_COLORS.get(g), alpha=0.85,
                   label=label_of(g) + (f" ({n} seeds)" if n > 1 else ""))
            for _, row in rows.iterrows():
                ax.scatter(x, row.to_numpy(), s=7, color="black", zorder=3, lw=0)
        ax.set_xticks(range(runs.shape[1]), runs.columns)
        ax.set_title(LABELS.get(metric, metric), fontsize=10)
        ax.set_xlabel("matrix type")
        if log:
            ax.set_yscale("log")
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def rotation_figure(table: pd.DataFrame, title: str = "Principal-subspace rotation and spectrum shift"):
    """Left: the largest principal angle between the top-r singular subspaces of base and
    checkpoint (left vectors), for r = 1%, 5%, 10% of min(m, n), mean over layers and matrices;
    middle: the same at r = 5% over training; right: the spectrum shift per matrix type."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    f = final(table)
    groups = list(dict.fromkeys(group_of(r) for r in f.run))
    width = 0.8 / max(1, len(groups))
    for j, g in enumerate(groups):
        color = RUN_COLORS.get(g)
        runs = [r for r in dict.fromkeys(f.run) if group_of(r) == g]
        vals = np.array([[f[(f.run == r) & (f.metric == f"left_angle_max@{x:.0%}")].value.mean()
                          for x in spectra.FRACTIONS] for r in runs])
        x = np.arange(len(spectra.FRACTIONS)) + (j - (len(groups) - 1) / 2) * width
        axes[0].bar(x, vals.mean(0), width, color=color, alpha=0.85, label=label_of(g))
        for v in vals:
            axes[0].scatter(x, v, s=7, color="black", zorder=3, lw=0)
        t = table[(table.metric == ROTATION) & table.run.isin(runs)]
        curve = t.groupby(["run", "fraction"]).value.mean().unstack(0)
        axes[1].plot(100 * curve.index, curve.mean(1), color=color, marker="o", ms=3, label=label_of(g))
        if curve.shape[1] > 1:
            axes[1].fill_between(100 * curve.index, curve.min(1), curve.max(1), color=color, alpha=0.15, lw=0)
    axes[0].set_xticks(range(len(spectra.FRACTIONS)), [f"r = {x:.0%}" for x in spectra.FRACTIONS])
    axes[0].set_ylabel("largest principal angle (degrees)")
    axes[0].set_title("rotation at the end, by subspace size", fontsize=10)
    axes[1].set_xlabel("% of training")
    axes[1].set_ylabel("largest angle, r = 5% (degrees)")
    axes[1].set_title("rotation over training (seed range)", fontsize=10)
    shift = f[f.metric == "spectrum_shift"].pivot_table(index="run", columns="matrix", values="value")
    shift = shift[[m for m in MATRICES if m in shift.columns]]
    for j, g in enumerate(groups):
        rows = shift[[group_of(r) == g for r in shift.index]]
        x = np.arange(shift.shape[1]) + (j - (len(groups) - 1) / 2) * width
        axes[2].bar(x, rows.mean(), width, color=RUN_COLORS.get(g), alpha=0.85)
        for _, row in rows.iterrows():
            axes[2].scatter(x, row.to_numpy(), s=7, color="black", zorder=3, lw=0)
    axes[2].set_xticks(range(shift.shape[1]), shift.columns)
    axes[2].set_yscale("log")
    axes[2].set_title(LABELS["spectrum_shift"] + " at the end", fontsize=10)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- attention -------------------------------------------------------------------------------

def head_grid(att: pd.DataFrame, runs, value: str = "jsd") -> np.ndarray:
    """layer x head of ``value`` at each run's last checkpoint, the mean over ``runs``."""
    f = final(att[att.run.isin(list(runs))])
    return f.pivot_table(index="layer", columns="head", values=value, aggfunc="mean").to_numpy()


def layer_shift(att: pd.DataFrame, run: str, value: str = "jsd") -> pd.Series:
    """layer -> the mean over heads of ``value`` at the run's last checkpoint."""
    f = final(att[att.run == run])
    return f.groupby("layer")[value].mean()


def layer_qk(weights_table: pd.DataFrame, run: str, metric: str = "rel_frobenius") -> pd.Series:
    """layer -> the mean relative change of q and k at the run's last checkpoint."""
    f = final(weights_table[weights_table.run == run])
    f = f[(f.metric == metric) & f.matrix.isin(QK)]
    return f.groupby("layer").value.mean()


def layer_correlation(att: pd.DataFrame, weights_table: pd.DataFrame, run: str) -> float:
    """Spearman rank correlation over layers between the q/k change and the attention shift (JSD)."""
    a, w = layer_shift(att, run), layer_qk(weights_table, run)
    both = pd.concat([a, w], axis=1, keys=["jsd", "qk"]).dropna()
    if len(both) < 3 or both.nunique().min() < 2:
        return float("nan")
    return float(both.jsd.rank().corr(both.qk.rank()))


def concentration(att: pd.DataFrame, run: str) -> float:
    """The largest head's JSD over the median head's, at the run's last checkpoint (1: even)."""
    f = final(att[att.run == run]).jsd
    med = float(f.median())
    return float(f.max()) / med if med > 0 else float("nan")


def top_heads(att: pd.DataFrame, runs, n: int = 3) -> list[tuple[int, int, float]]:
    """The ``n`` (layer, head, JSD) that moved most, mean over ``runs`` (a method's seeds)."""
    grid = head_grid(att, runs)
    order = np.argsort(grid, axis=None)[::-1][:n]
    return [(int(i // grid.shape[1]), int(i % grid.shape[1]), float(grid.flat[i])) for i in order]


def attention_figure(att: pd.DataFrame, weights_table: pd.DataFrame, groups: dict,
                     title: str = "Does the model attend elsewhere? Attention shift (JSD) per layer and head"):
    """One row per group (``{group: [run, ...]}``, its seeds): the layer x head heatmap of the
    attention JSD (mean over seeds, a colour scale per group: GRPO's shift is two orders of
    magnitude below SFT-3ep's), the per-layer attention shift and the per-layer q/k relative
    change that claim 8a correlates (each seed a dot), with the Spearman correlation of each seed."""
    fig, axes = plt.subplots(len(groups), 3, figsize=(11, 2.6 * len(groups) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2, 2]})
    for (g, runs), (ax_h, ax_j, ax_q) in zip(groups.items(), axes):
        grid = head_grid(att, runs)
        im = ax_h.imshow(grid, origin="lower", aspect="auto", cmap="magma", vmin=0,
                         vmax=float(np.nanmax(grid)) or 1.0)
        ax_h.grid(False)
        ax_h.set_ylabel(f"{label_of(g)}\nlayer")
        ax_h.set_xticks(range(grid.shape[1]))
        ax_h.set_yticks(range(grid.shape[0]))
        fig.colorbar(im, ax=ax_h, label="JSD (bits)", shrink=0.9, format="%.1e")
        color = RUN_COLORS.get(g, "tab:gray")
        for ax, per in ((ax_j, [layer_shift(att, r) for r in runs]), (ax_q, [layer_qk(weights_table, r) for r in runs])):
            t = pd.concat(per, axis=1, keys=list(runs))
            ax.barh(t.index, t.mean(1), color=color, alpha=0.85)
            for col in t:
                ax.scatter(t[col], t.index, s=7, color="black", zorder=3, lw=0)
            ax.set_yticks(t.index)
            ax.set_ylim(-0.5, len(t) - 0.5)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        rhos = [layer_correlation(att, weights_table, r) for r in runs]
        ax_q.set_title("ρ per seed: " + ", ".join(f"{x:+.2f}" for x in rhos), fontsize=8)
    axes[-1][0].set_xlabel("head")
    axes[-1][1].set_xlabel("attention JSD per layer (bits)")
    axes[-1][2].set_xlabel("q/k relative change per layer")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def entropy_figure(att: pd.DataFrame, groups: dict, title: str = "Attention entropy change per layer (nats)"):
    """Per group: the change of attention entropy per layer (mean over heads and seeds), each
    seed a thin line; below 0 the model attends more sharply than the base."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for g, runs in groups.items():
        per = pd.concat([layer_shift(att, r, "entropy_change") for r in runs], axis=1, keys=list(runs))
        color = RUN_COLORS.get(g)
        ax.plot(per.index, per.mean(1), marker="o", ms=3, color=color, label=label_of(g))
        for col in per:
            ax.plot(per.index, per[col], lw=0.6, alpha=0.4, color=color)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("layer")
    ax.set_ylabel("Δ entropy (nats)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def layer_profiles(att: pd.DataFrame, weights_table: pd.DataFrame, run: str) -> pd.DataFrame:
    """layer x (jsd, qk): the attention shift and the q/k change per layer of one run."""
    return pd.concat([layer_shift(att, run), layer_qk(weights_table, run)], axis=1, keys=["jsd", "qk"]).dropna()


def correlation_test(att: pd.DataFrame, weights_table: pd.DataFrame, runs, n_perm: int = 1000,
                     seed: int = 0) -> tuple[float, float]:
    """Claim 8a: the mean over ``runs`` (a method's seeds) of the Spearman correlation over layers
    between q/k change and attention shift, and its one-sided permutation p-value: the layers'
    attention shifts are shuffled within each run independently (the null: no relation between
    where q/k moved and where attention moved), ``p = (1 + #{null >= observed}) / (1 + n_perm)``."""
    ranks = []
    for run in runs:
        both = layer_profiles(att, weights_table, run)
        if len(both) < 3 or both.nunique().min() < 2:
            return float("nan"), float("nan")
        ranks.append((both.jsd.rank().to_numpy(), both.qk.rank().to_numpy()))

    def rho(x, y):
        x, y = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
        return (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))

    observed = float(np.mean([rho(j, q) for j, q in ranks]))
    rng = np.random.default_rng(seed)
    null = np.mean([rho(np.stack([rng.permutation(j) for _ in range(n_perm)]), q[None]) for j, q in ranks], axis=0)
    return observed, float((1 + (null >= observed - 1e-12).sum()) / (1 + n_perm))
