"""Figures of the weight-change table (``lenses.weights.run_table``): layer x matrix heatmaps (layer 0 at
the bottom), an animation over the checkpoints, and per-matrix trajectories over training."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation, cm, colors

from ..arch import MATRICES
from ..train.runs import method_of
from . import weight_summary

CMAP = "magma_r"
LABEL = {"rel_frobenius": r"$\|\Delta W\|_F / \|W\|_F$", "frobenius": r"$\|\Delta W\|_F$",
         "rms": r"$\|\Delta W\|_F / \sqrt{n}$"}


def grid(table, run: str, fraction: float | None = None, metric: str = "rel_frobenius") -> np.ndarray:
    """layers x MATRICES array of one run at its checkpoint nearest ``fraction`` of training
    (default: its last checkpoint). Runs of different lengths save at slightly different fractions."""
    t = table[(table.run == run) & (table.metric == metric)]
    if fraction is None:
        fraction = t.fraction.max()
    own = np.unique(t.fraction.to_numpy())
    t = t[t.fraction == own[np.abs(own - fraction).argmin()]]
    return t.pivot(index="layer", columns="matrix", values="value")[list(MATRICES)].sort_index().to_numpy()


def _exponent(top: float) -> int:
    """Power of ten the cell labels are written in (0.0036 -> -3, so the cell reads 3.6)."""
    return int(np.floor(np.log10(top))) if top > 0 else 0


def _draw(ax, values: np.ndarray, norm, annotate: bool):
    """The heatmap; cells labelled in units of 10^e of this panel's largest value (returned), and
    exactly unchanged cells as a bare ``0``."""
    im = ax.imshow(values, origin="lower", aspect="auto", cmap=CMAP, norm=norm)  # layer 0 at the bottom
    ax.grid(False)
    ax.set_xticks(range(len(MATRICES)), MATRICES)
    ax.set_yticks(range(values.shape[0]))
    ax.set_xlabel("matrix")
    ax.set_ylabel("layer")
    e = _exponent(float(np.nanmax(values)))
    if annotate:
        for (r, c), v in np.ndenumerate(values):
            shade = norm(v) if norm.vmax > norm.vmin else 0
            text = "0" if v == 0 else f"{v / 10.0 ** e:.1f}"  # exactly unchanged (a frozen matrix)
            ax.text(c, r, text, ha="center", va="center", fontsize=7,
                    color="white" if shade > 0.55 else "black")
    return im, e


def _title(label: str, e: int, annotate: bool) -> str:
    return label + (rf"  (cells $\times 10^{{{e}}}$)" if annotate and e else "")


def heatmaps(table, runs: dict[str, str], shared: bool, metric: str = "rel_frobenius", title: str = ""):
    """One heatmap per run (``runs``: run id -> panel title) of its final checkpoint, each on its own
    colour scale (``shared=False``) or on one scale for all (``shared=True``)."""
    grids = {r: grid(table, r, metric=metric) for r in runs}
    annotate = max(g.shape[0] for g in grids.values()) <= 12
    fig, axes = plt.subplots(1, len(runs), figsize=(4.4 * len(runs) + (0.8 if shared else 0), 4.2),
                             squeeze=False, layout="constrained")
    top = max(float(np.nanmax(g)) for g in grids.values())
    for ax, (run, label) in zip(axes[0], runs.items()):
        g = grids[run]
        norm = colors.Normalize(0, top if shared else float(np.nanmax(g)))
        im, e = _draw(ax, g, norm, annotate)
        ax.set_title(_title(label, e, annotate), fontsize=10)
        if not shared:
            fig.colorbar(im, ax=ax, label=LABEL[metric], shrink=0.9)
    if shared:
        fig.colorbar(im, ax=axes[0].tolist(), label=LABEL[metric] + ", one scale", shrink=0.9)
    fig.suptitle(title or "Weight change at the end of training, per layer and matrix")
    return fig


def animate(table, runs: dict[str, str], path: Path, metric: str = "rel_frobenius", fps: int = 3) -> Path:
    """A GIF over the checkpoints: the runs side by side at the same % of training, each on its
    own colour scale fixed over time (its largest change at any checkpoint), so both where each
    run acts and how the change grows are visible (the shared-scale comparison is
    :func:`heatmaps` with ``shared=True``)."""
    fractions = sorted(table[table.run == next(iter(runs))].fraction.unique())  # frames: the first run's checkpoints
    grids = {r: [grid(table, r, f, metric) for f in fractions] for r in runs}
    fig, axes = plt.subplots(1, len(runs), figsize=(3.9 * len(runs), 3.8), squeeze=False,
                             layout="constrained")
    images = []
    for ax, (run, label) in zip(axes[0], runs.items()):
        norm = colors.Normalize(0, max(float(np.nanmax(g)) for g in grids[run]))
        im, _ = _draw(ax, grids[run][0], norm, annotate=False)
        ax.set_title(label, fontsize=10)
        fig.colorbar(im, ax=ax, label=LABEL[metric], shrink=0.9)
        images.append(im)
    heading = fig.suptitle("")

    def frame(i):
        for im, run in zip(images, runs):
            im.set_data(grids[run][i])
        heading.set_text(f"Weight change at {100 * fractions[i]:.0f}% of training")
        return images

    anim = animation.FuncAnimation(fig, frame, frames=len(fractions), blit=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(path, writer=animation.PillowWriter(fps=fps), dpi=80)
    plt.close(fig)
    return path


def trajectories(table, run: str, title: str, metric: str = "rel_frobenius"):
    """Per matrix type, the change over % of training, one line per layer (colour = layer)."""
    t = table[(table.run == run) & (table.metric == metric)].sort_values("fraction")
    layers = sorted(t.layer.unique())
    norm = colors.Normalize(min(layers), max(layers))
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(MATRICES), figsize=(2.1 * len(MATRICES) + 0.8, 2.8), sharey=True,
                             layout="constrained")
    for ax, matrix in zip(axes, MATRICES):
        m = t[t.matrix == matrix]
        for layer in layers:
            line = m[m.layer == layer]
            ax.plot(100 * line.fraction, line.value, color=cmap(norm(layer)), lw=1.1)
        ax.set_title(matrix)
        ax.set_xlabel("% of training")
    axes[0].set_ylabel(LABEL[metric])
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes.tolist(), label="layer", shrink=0.9)
    fig.suptitle(title)
    return fig


def seed_spread(table, colors_of: dict, labels: dict, metric: str = "rel_frobenius",
                title: str = "Weight change at the end of training: mean over seeds, each seed a dot"):
    """Per matrix type, per method: the mean over layers of the final change, averaged over the
    method's seeds (the bar, log scale) with each seed's value as a dot. ``colors_of`` and
    ``labels``: method -> colour / legend entry."""
    per_run = weight_summary.by_matrix(table, metric)  # run x matrix, final checkpoint, mean over layers
    methods = list(dict.fromkeys(method_of(r) for r in per_run.index))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for j, m in enumerate(methods):
        rows = per_run[[method_of(r) == m for r in per_run.index]]
        x = np.arange(len(MATRICES)) + (j - (len(methods) - 1) / 2) * width
        n = len(rows)
        ax.bar(x, rows.mean(), width, color=colors_of.get(m), alpha=0.85,
               label=labels.get(m, m) + (f" ({n} seeds)" if n > 1 else ""))
        for _, row in rows.iterrows():
            ax.scatter(x, row.to_numpy(), s=8, color="black", zorder=3, lw=0)
    ax.set_yscale("log")
    ax.set_xticks(range(len(MATRICES)), MATRICES)
    ax.set_xlabel("matrix type")
    ax.set_ylabel(LABEL[metric] + ", mean over layers")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
