"""Figures in the paper's style (seaborn/matplotlib), saved as PDF and PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from ..eval.scoring import label
from ..train.runs import method_of  # the notebooks label runs through plots.method_of
from . import published

sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)


def save(fig, out_dir: Path, name: str) -> list[Path]:
    """Write ``name``.pdf and ``name``.png under ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("pdf", "png"):
        path = out_dir / f"{name}.{ext}"
        # no creation date in the PDF, so an unchanged figure is an unchanged file
        meta = {"CreationDate": None} if ext == "pdf" else {}
        fig.savefig(path, bbox_inches="tight", dpi=200 if ext == "png" else None, metadata=meta)
        written.append(path)
    return written


def base_scores(table, title: str = "Base model on the benchmark analogues"):
    """Bars of the base's scores with each analogue's chance level, and the paper's
    OLMo-2-7B-Instruct base scores as reference markers."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = range(len(table))
    bars = ax.bar(x, table["score"], color=sns.color_palette("deep")[0], label="miniature base (ours)")
    for rect, v in zip(bars, table["score"]):
        ax.annotate(f"{v:.2f}", (rect.get_x() + rect.get_width() / 2, v), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.scatter(x, table["chance"], marker="_", s=400, color="black", zorder=3, label="chance")
    paper = [published.paper_score(k, "base") for k in table["key"]]
    ax.scatter(x, paper, marker="o", facecolors="none", edgecolors="tab:red", zorder=3,
               label="paper base (OLMo-2-7B-Instruct)")
    ax.set_xticks(list(x), table["benchmark"], rotation=25, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, frameon=True)
    fig.tight_layout()
    return fig


def loss_curve(log, title: str = "Base pretraining loss"):
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(log["step"], log["loss"], lw=0.8, alpha=0.4, color="tab:blue")
    ax.plot(log["step"], log["loss"].rolling(25, min_periods=1, center=True).mean(), color="tab:blue")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _curve(ax, x, y, label=None, color=None, window: int = 5):
    """Per-step values faint, their centred rolling mean bold."""
    line = ax.plot(x, y, lw=0.8, alpha=0.35, color=color)[0]
    ax.plot(x, y.rolling(window, min_periods=1, center=True).mean(), color=line.get_color(), label=label)


def training_curves(log, title: str):
    """The trainer's log over % of training: for GRPO reward (total and per function), loss,
    completion length and entropy; for SFT loss, token accuracy, entropy and gradient norm."""
    pct = 100 * log["step"] / log["step"].max()
    window = max(3, len(log) // 10)
    grpo = "reward" in log
    panels = (["reward", "loss", "completions/mean_length", "entropy"] if grpo
              else ["loss", "mean_token_accuracy", "entropy", "grad_norm"])
    labels = {"reward": "reward", "loss": "loss", "completions/mean_length": "completion length (tokens)",
              "entropy": "entropy (nats/token)", "mean_token_accuracy": "token accuracy",
              "grad_norm": "gradient norm (before clipping)"}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.9))
    for ax, column in zip(axes, panels):
        if column not in log:
            ax.set_visible(False)
            continue
        if column == "reward":
            _curve(ax, pct, log["reward"], "total", "black", window)
            for name in sorted(c for c in log if c.startswith("rewards/") and c.endswith("/mean")):
                _curve(ax, pct, log[name], name.split("/")[1].replace("_reward", ""), None, window)
            ax.set_ylim(-0.02, 1.1)
            ax.legend(fontsize=7, loc="center right")
        else:
            _curve(ax, pct, log[column], None, "tab:blue", window)
        ax.set_xlabel("% of training")
        ax.set_ylabel(labels[column])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


RUN_COLORS = {"base": "0.55", "grpo": "tab:blue", "sft1ep": "tab:orange", "sft3ep": "tab:red",
              "sft3ep-attention": "tab:green", "sft3ep-qk": "tab:purple", "sft3ep-frozen-mid-mlp": "tab:brown"}
RUN_LABELS = {"base": "Base", "grpo": "GRPO", "sft1ep": "SFT (1 epoch)", "sft3ep": "SFT (3 epochs)"}


def _members(table, entry: str):
    """The runs of ``table`` an entry names: a run id, or a method (all its seeds)."""
    runs = list(dict.fromkeys(table.run))
    return [entry] if entry in runs else [r for r in runs if method_of(r) == entry]


def kl_curves(table, pairs: list[tuple[str, ...]],
              title: str = "KL divergence during reasoning training on MATH-500"):
    """One column per tuple (e.g. GRPO vs SFT-1ep, GRPO vs SFT-3ep) of run ids or methods. Top:
    KL(base || checkpoint) over % of training; a method with several seeds is drawn as the mean
    over seeds (the line) with each seed faint and the band between the lowest and the highest; the
    final mean is written at the line's end. Bottom: the same curves as a share of their own final
    KL, so the shape of a curve far below the others (GRPO's) is visible; the dotted lines mark 25%
    of training and half the final KL, where claim 5 reads "jumped early"."""
    fig, axes = plt.subplots(2, len(pairs), figsize=(4.6 * len(pairs), 6.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for col, entries in enumerate(pairs):
        ax, bx = axes[0][col], axes[1][col]
        for entry in entries:
            members = _members(table, entry)
            t = table[table.run.isin(members)]
            m = method_of(members[0])
            wide = t.pivot_table(index="fraction", columns="run", values="kl").sort_index()
            x, mean = 100 * wide.index, wide.mean(axis=1)
            color = RUN_COLORS.get(m)
            n = wide.shape[1]
            label = RUN_LABELS.get(m, entry) + (f" (mean of {n} seeds)" if n > 1 else "")
            if n > 1:
                ax.fill_between(x, wide.min(axis=1), wide.max(axis=1), color=color, alpha=0.18, lw=0)
                for run in wide:
                    ax.plot(x, wide[run], color=color, lw=0.6, alpha=0.5)
            ax.plot(x, mean, marker="o", ms=3, color=color, label=label)
            ax.annotate(f"{mean.iloc[-1]:.3g}", (x[-1], mean.iloc[-1]), fontsize=8,
                        xytext=(4, 0), textcoords="offset points", va="center", color=color)
            end = mean.iloc[-1]
            if end > 0:
                bx.plot(x, mean / end, marker="o", ms=3, color=color, label=RUN_LABELS.get(m, entry))
        ax.set_ylabel("KL(base || checkpoint), nats/token")
        ax.set_xlim(0, 112)
        ax.legend(fontsize=8, loc="upper left")
        bx.axvline(25, color="0.5", ls=":", lw=1)
        bx.axhline(0.5, color="0.5", ls=":", lw=1)
        bx.set_xlim(0, 112)
        bx.set_xlabel("% of training")
        bx.set_ylabel("share of its final KL")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def benchmark_bars(scores, title: str = "Model performance across maths and knowledge benchmarks",
                   labels: dict | None = None, points=None):
    """Grouped bars per benchmark (hue = model) with bootstrap 95% error bars and each value on its bar.
    ``scores``: :func:`scalpel_core.eval.scoring.score_table` (or the pooled rows of ``seed_tables``:
    the mean over seeds, with seed-and-item intervals); ``points``: per-seed rows of the same
    models, drawn as dots on the bars; ``labels``: model -> legend entry (default :data:`RUN_LABELS`)."""
    labels = labels or RUN_LABELS
    models = list(dict.fromkeys(scores.model))
    bench = list(dict.fromkeys(scores.benchmark))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(11, 4))
    for j, model in enumerate(models):
        t = scores[scores.model == model].set_index("benchmark").loc[bench]
        x = [i + (j - (len(models) - 1) / 2) * width for i in range(len(bench))]
        err = [(t.score - t.lo).clip(lower=0), (t.hi - t.score).clip(lower=0)]
        ax.bar(x, t.score, width, yerr=err, capsize=2, color=RUN_COLORS.get(model), label=labels.get(model, model),
               error_kw={"elinewidth": 0.8})
        for xi, v, hi in zip(x, t.score, t.hi):
            ax.text(xi, hi + 0.015, f"{v:.2f}", ha="center", va="bottom", fontsize=6, rotation=90)
        if points is not None and model in set(points.model):
            p = points[points.model == model]
            xs = {b: xi for b, xi in zip(bench, x)}
            ax.scatter([xs[b] for b in p.benchmark], p.score, s=7, color="black", zorder=4, lw=0,
                       label="each seed" if j == len(models) - 1 else None)
    ax.set_xticks(range(len(bench)), bench, rotation=20, ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("score (bootstrap 95% CI)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def retention_changes(changes, title: str = "Retention: change against the base (continuous scores, nats)",
                      labels: dict | None = None):
    """A forest plot: one row per retention score, per model its change against the base (the
    pooled mean over seeds) with its 95% interval, and each seed's change as a dot.
    ``changes``: the deltas of :func:`scalpel_core.eval.scoring.seed_tables`, retention keys only."""
    labels = labels or RUN_LABELS
    pooled = changes[changes.seed.astype(str) == "pooled"]
    each = changes[changes.seed.astype(str) != "pooled"]
    keys = list(dict.fromkeys(pooled.key))
    models = list(dict.fromkeys(pooled.model))
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(keys) + 1.2))
    step = 0.8 / max(1, len(models))
    for j, model in enumerate(models):
        t = pooled[pooled.model == model].set_index("key").loc[keys]
        y = [i + (j - (len(models) - 1) / 2) * step for i in range(len(keys))]
        color = RUN_COLORS.get(model)
        ax.errorbar(t.delta, y, xerr=[(t.delta - t.lo).clip(lower=0), (t.hi - t.delta).clip(lower=0)], fmt="o",
                    ms=4, color=color, capsize=2, label=labels.get(model, model))
        e = each[each.model == model]
        ys = dict(zip(keys, y))
        ax.scatter(e.delta, [ys[k] for k in e.key], s=8, color=color, alpha=0.5, lw=0)
    ax.set_yticks(range(len(keys)), [label(k) for k in keys])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("change against the base (higher = more retained); bars: seed-and-item bootstrap 95% CI")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def skill_curve(log, chance: dict | None = None, title: str = "Skill while the base pretrains",
                selection=None, threshold: float | None = None):
    """Accuracy on each probed analogue (columns of ``skill_log.csv``) against pretraining steps,
    with each one's chance level (``chance``: key -> level) dotted. With ``selection`` (the base's
    ``selection_log.csv``, config select_greedy), the greedy accuracy on the base-selection split is
    drawn dashed with its ``threshold``, and the step the base was kept at (its last row) marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    palette = sns.color_palette("deep")
    for i, key in enumerate(c for c in log.columns if c != "step"):
        ax.plot(log.step, log[key], marker="o", ms=3, color=palette[i % len(palette)], label=label(key))
        if chance and key in chance:
            ax.axhline(chance[key], ls=":", lw=0.8, color=palette[i % len(palette)])
    if selection is not None and len(selection):
        ax.plot(selection.step, selection.select_greedy, ls="--", marker=".", ms=3, lw=1, color="0.2",
                label="selection split (greedy)")
        if threshold:
            ax.axhline(threshold, ls="--", lw=0.6, color="0.5")
        kept = int(selection.step.iloc[-1])
        ax.axvline(kept, lw=0.8, color="0.5", label=f"base kept (step {kept})")
    ax.set_xlabel("pretraining step")
    ax.set_ylabel("accuracy (dotted: chance)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
