"""GRPO against SFT at matched update size (notebook 07, claims 4, 5, 8 and 9).

    table = matched.collect(cfg, run_dirs, conversations, tokenizer)   # one row per run, its last checkpoint
    matched.compare(table, "frac_unchanged_bf16")                     # GRPO against SFT-1ep at GRPO's size

At the paper's settings GRPO moves the weights about five times less than SFT, so "GRPO's update
is sparser", "rotates less", "changes the outputs less" or "moves attention less" may only say
that it moved less. Here each such property is compared where both methods moved by the same
amount: for every GRPO setting (1x, 3x, 10x its rate), SFT-1ep's value is interpolated along its
learning-rate path (0.2x ... 50x GRPO's rate; :func:`scalpel_core.report.forgetting.along_path`)
at GRPO's size. The size is the relative weight change ||W - W0|| / ||W0|| over every projection
matrix, except for the attention shift per unit of output change, which is matched on the final
MATH-500 KL. Premise: some GRPO setting's size lies within SFT's path; otherwise the comparison is
``not testable``. The check holds when GRPO is on the claimed side at every comparable setting.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..arch import MLP, MATRICES, middle_third
from ..checkpoints import list_checkpoints
from ..train.runs import lr_factor_of, method_of, seed_of
from .amplify import COLORS
from .forgetting import PATH, along_path, relative_change
from .inside import ROTATION, concentration, final

SIZE = "rel_change"
# metric -> (label, GRPO is on the claimed side when its value is higher, the size it is matched on)
METRICS = {
    "kl_math500": ("final MATH-500 KL (outputs changed)", False, SIZE),
    "mid_mlp_share": ("mid-layer MLP change / other matrices' change", False, SIZE),
    "frac_unchanged_bf16": ("share of entries unchanged in bf16", True, SIZE),
    ROTATION: ("largest principal angle, top 5% (degrees)", False, SIZE),
    "spectrum_shift": ("spectrum shift ‖Δσ‖ / ‖σ‖", False, SIZE),
    "jsd": ("attention JSD, mean over heads (bits)", True, "kl_math500"),
    "concentration": ("most moved head / median head", True, SIZE),
}
LABEL = {SIZE: "relative weight change ‖ΔW‖ / ‖W0‖", **{m: v[0] for m, v in METRICS.items()}}


def mid_mlp_share(weights_table: pd.DataFrame) -> pd.Series:
    """run -> mean relative change of the mid-layer MLP cells over that of every other cell, at
    the run's last checkpoint (the profile behind claim 4's "SFT moves mid-layer MLPs more")."""
    f = final(weights_table[weights_table.metric == "rel_frobenius"])
    first, last = middle_third(int(f.layer.max()) + 1)
    mid = f.layer.between(first, last) & f.matrix.isin(MLP)
    return f[mid].groupby("run").value.mean() / f[~mid].groupby("run").value.mean()


def collect(cfg, run_dirs: dict, conversations, tokenizer, rates: dict, batch_size: int = 16,
            progress: bool = False) -> pd.DataFrame:
    """One row per run (``run_dirs``: run id -> folder; ``rates``: run id -> learning rate as a
    multiple of GRPO's): its method, seed, rate, size (:data:`SIZE`) and every metric of
    :data:`METRICS` at its last checkpoint. Every lens reads through its cache, so the runs of
    notebooks 03-06 cost nothing here."""
    from ..lenses import attention, kl, spectra, weights

    dirs = list(run_dirs.values())
    w = pd.concat([weights.run_table(d, progress=False) for d in dirs], ignore_index=True)
    sp = pd.concat([weights.run_table(d, progress=False, metrics=weights.SPARSITY) for d in dirs], ignore_index=True)
    spec = pd.concat([spectra.run_table(d, progress=False) for d in dirs], ignore_index=True)
    att = attention.run_table(dirs, conversations, tokenizer, batch_size, progress, cfg.kl_template)
    size = relative_change(w)
    size = size[size.step == size.groupby("run").step.transform("max")].set_index("run").rel_change
    base = list_checkpoints(dirs[0])[0]["path"]
    finals = [(run, list_checkpoints(d)[-1]["path"]) for run, d in run_dirs.items()]
    kls = kl.curve(base, finals, conversations, tokenizer, batch_size, progress=progress,
                   template=cfg.kl_template).set_index("checkpoint").kl
    share = mid_mlp_share(w)

    def mean_final(table, metric):
        f = final(table)
        return f[(f.metric == metric) & f.matrix.isin(MATRICES)].groupby("run").value.mean()

    unchanged, rotation, shift = (mean_final(sp, "frac_unchanged_bf16"), mean_final(spec, ROTATION),
                                  mean_final(spec, "spectrum_shift"))
    jsd = final(att).groupby("run").jsd.mean()
    rows = [{"run": run, "method": method_of(run), "family": "GRPO" if method_of(run) == "grpo" else "SFT",
             "lr_factor": lr_factor_of(run), "relative_rate": rates[run], "seed": seed_of(run),
             SIZE: float(size[run]), "kl_math500": float(kls[run]), "mid_mlp_share": float(share[run]),
             "frac_unchanged_bf16": float(unchanged[run]), ROTATION: float(rotation[run]),
             "spectrum_shift": float(shift[run]), "jsd": float(jsd[run]),
             "concentration": concentration(att, run)} for run in run_dirs]
    return pd.DataFrame(rows)


def settings(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (method and rate): the mean over its seeds of the size and every metric."""
    values = [SIZE, *METRICS]
    return (table.groupby(["family", "method", "lr_factor", "relative_rate"], sort=False)[values].mean()
            .reset_index())


def compare(table: pd.DataFrame, metric: str) -> dict:
    """GRPO against SFT-1ep at GRPO's size (:data:`METRICS` says which size and which side is
    claimed for GRPO). ``status``: ``holds`` (GRPO on the claimed side at every comparable
    setting), ``fails`` (otherwise), or ``not testable`` (premise failed: no GRPO setting's size
    lies within SFT-1ep's path); with the comparisons and the premise."""
    _, higher, size = METRICS[metric]
    pts = settings(table)
    sft, grpo = pts[pts.method == PATH], pts[pts.family == "GRPO"]
    comparisons = []
    for r in grpo.to_dict(orient="records"):
        for hit in along_path(sft, size, metric, r[size]):
            better = r[metric] > hit["value"] if higher else r[metric] < hit["value"]
            comparisons.append({"lr_factor": r["lr_factor"], "size": r[size], "grpo": r[metric],
                                "sft_at_size": hit["value"], "sft_between": list(hit["between"]),
                                "grpo_on_claimed_side": bool(better)})
    status = ("not testable" if not comparisons else
              "holds" if all(c["grpo_on_claimed_side"] for c in comparisons) else "fails")
    rng = [float(sft[size].min()), float(sft[size].max())] if len(sft) else None
    return {"status": status, "comparisons": comparisons, "size": size, "sft_size_range": rng,
            "grpo_sizes": [float(x) for x in grpo[size]],
            "premise": f"a GRPO setting's {LABEL[size]} lies within SFT-1ep's learning-rate path "
                       + (f"({rng[0]:.3g}-{rng[1]:.3g}; GRPO: {', '.join(f'{x:.3g}' for x in grpo[size])})" if rng else "(no SFT-1ep path)"),
            "premise_holds": bool(comparisons)}


def describe(result: dict) -> str:
    """The comparisons of :func:`compare` as text: GRPO's value against SFT's at GRPO's size."""
    if not result["comparisons"]:
        return "no comparable setting: " + result["premise"]
    return "; ".join(f"GRPO {c['lr_factor']:g}x at size {c['size']:.3g}: {c['grpo']:.3g} vs SFT-1ep {c['sft_at_size']:.3g} "
                     f"(between {c['sft_between'][0]:g}x and {c['sft_between'][1]:g}x)" for c in result["comparisons"])


def figure(table: pd.DataFrame, title: str = "GRPO against SFT at matched update size (last checkpoints)"):
    """One panel per metric of :data:`METRICS`: the metric against its size (log scale), every
    run a dot, each setting's mean joined along the learning-rate path (GRPO; SFT-1ep), SFT-3ep
    a square, and SFT-1ep's interpolated value at each GRPO setting's size a hollow diamond."""
    metrics = list(METRICS)
    cols = 4
    fig, axes = plt.subplots(int(np.ceil(len(metrics) / cols)), cols, figsize=(15, 7), squeeze=False)
    pts = settings(table)
    for ax, metric in zip(axes.flat, metrics):
        size = METRICS[metric][2]
        for method, color, marker in (("grpo", COLORS["grpo"], "o"), (PATH, COLORS["sft1ep"], "o"),
                                      ("sft3ep", COLORS["sft3ep"], "s")):
            t = table[table.method == method]
            ax.scatter(t[size], t[metric], s=10, color=color, alpha=0.5, marker=marker)
            p = pts[pts.method == method].sort_values("relative_rate")
            ax.plot(p[size], p[metric], "-" + marker, color=color, ms=4, lw=1,
                    label={"grpo": "GRPO (1x, 3x, 10x)", PATH: "SFT-1ep (0.2x ... 50x)", "sft3ep": "SFT-3ep"}[method])
        for c in compare(table, metric)["comparisons"]:
            ax.scatter([c["size"]], [c["sft_at_size"]], marker="D", facecolor="none", edgecolor=COLORS["sft1ep"], s=40)
            ax.plot([c["size"]] * 2, [c["grpo"], c["sft_at_size"]], ":", color="0.3", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel(LABEL[size], fontsize=8)
        ax.set_title(LABEL[metric], fontsize=9)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], marker="D", ls="", mfc="none", color=COLORS["sft1ep"]))
    labels.append("SFT-1ep interpolated at GRPO's size")
    list(axes.flat)[-1].legend(handles, labels, loc="center", fontsize=9, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
