"""Figures in the paper's style (seaborn/matplotlib), saved as PDF and PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from ..train.runs import method_of  # noqa: F401 - the notebooks label runs through plots.method_of
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


def kl_curves(table, pairs: list[tuple[str, ...]],
              title: str = "KL divergence during reasoning training on MATH-500"):
    """One panel per tuple of runs (e.g. GRPO vs SFT-1ep, GRPO vs SFT-3ep): KL(base || checkpoint)
    over % of training, the final value written at each line's end."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 3.4), squeeze=False)
    for ax, runs in zip(axes[0], pairs):
        for run in runs:
            t = table[table.run == run].sort_values("fraction")
            m = method_of(run)
            ax.plot(100 * t.fraction, t.kl, marker="o", ms=3, color=RUN_COLORS.get(m), label=RUN_LABELS.get(m, run))
            ax.annotate(f"{t.kl.iloc[-1]:.3g}", (100 * t.fraction.iloc[-1], t.kl.iloc[-1]), fontsize=8,
                        xytext=(4, 0), textcoords="offset points", va="center", color=RUN_COLORS.get(m))
        ax.set_xlabel("% of training")
        ax.set_ylabel("KL(base || checkpoint), nats/token")
        ax.set_xlim(0, 112)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def benchmark_bars(scores, title: str = "Model performance across maths and knowledge benchmarks",
                   labels: dict | None = None):
    """Grouped bars per benchmark (hue = model) with bootstrap 95% error bars and each value on its bar.
    ``scores``: :func:`scalpel_core.eval.scoring.score_table`; ``labels``: model -> legend entry
    (default :data:`RUN_LABELS`)."""
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
    ax.set_xticks(range(len(bench)), bench, rotation=20, ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("score (bootstrap 95% CI)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
