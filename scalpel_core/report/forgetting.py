"""Forgetting against KL, and the frontier of training strengths (notebook 07).

    points = forgetting.collect(cfg, run_dirs, kl_table, weights_table, stride=4)   # one row per checkpoint
    fits = forgetting.fit_table(points)          # change = a*x + b*x^2 per predictor, R^2 with a bootstrap CI
    table = forgetting.frontier_table(vectors, runs_info)    # in-domain gain against out-of-domain change

Forgetting (Shenfeld, Pari, Agrawal 2025, "RL's Razor"): for each checkpoint, the out-of-domain
change against the base (the mean over the knowledge and instruction analogues, in accuracy and
in retention) beside three predictors: (a) the forward KL(base || model) per token over responses
sampled from the base on the training prompts (:func:`scalpel_core.lenses.kl.response_curve`), (b)
the paper's teacher-forced MATH-500 KL (notebook 04), (c) the relative weight change
||W - W0|| / ||W0|| over every projection matrix (notebook 03).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import cache, worlds
from ..checkpoints import list_checkpoints
from ..config import family
from ..eval import stats
from ..eval.passk import subset
from ..eval.scoring import GENERAL, GENERAL_RETENTION
from ..train.runs import lr_factor_of, method_of, seed_of
from .amplify import COLORS, NAMES

OUTCOMES = {"ood_accuracy": "out-of-domain accuracy change", "ood_retention": "out-of-domain retention change (nats)"}
PREDICTORS = {"kl_sampled": "KL on base samples, training prompts (a)", "kl_math500": "MATH-500 KL, teacher-forced (b)",
              "rel_change": "relative weight change (c)"}
GROUPS = {"all": ("grpo", "sft1ep", "sft3ep"), "grpo": ("grpo",), "sft": ("sft1ep", "sft3ep")}
STRIDE = {"smoke": 1}  # notebook 07 reads every stride-th checkpoint per preset; every other preset: 4
#                       (tiny: 5 of the 20, at 20, 40, ..., 100% of training: the time budget)
SAMPLE_TEMPERATURE = 1.0  # the base's own distribution: the forward KL is an expectation under the base


def ood_change(vectors: dict, base: dict) -> tuple[float, float]:
    """(accuracy, retention): the mean over the out-of-domain keys of the model's score minus the base's."""
    def mean_delta(keys):
        found = [k for k in keys if k in vectors and k in base]
        return float(np.mean([stats.score(*vectors[k]) - stats.score(*base[k]) for k in found])) if found else np.nan
    return mean_delta(GENERAL), mean_delta(GENERAL_RETENTION)


def relative_change(weights_table: pd.DataFrame) -> pd.DataFrame:
    """``run, step, rel_change``: ||W - W0|| / ||W0|| over every matrix of a checkpoint, from the
    weight lens's per-matrix ``frobenius`` and ``rel_frobenius`` (||W0|| = their ratio). A frozen
    matrix (no change: the ratio is 0 / 0) still counts in the denominator: its ||W0|| is read from
    any other row of the same (layer, matrix) in the table (one base for every run), so freezing
    a matrix does not make the rest of the model look as if it moved more."""
    t = weights_table[weights_table.metric.isin(["frobenius", "rel_frobenius"])]
    wide = t.pivot_table(index=["run", "step", "layer", "matrix"], columns="metric", values="value").reset_index()
    moved = wide[wide.rel_frobenius > 0]
    norms = (moved.frobenius / moved.rel_frobenius).groupby([moved.layer, moved.matrix]).median().rename("w0")
    wide = wide.merge(norms.reset_index(), on=["layer", "matrix"], how="left")
    if wide.w0.isna().any():
        missing = wide[wide.w0.isna()][["layer", "matrix"]].drop_duplicates().head(3).to_records(index=False).tolist()
        raise ValueError(f"the base norm of (layer, matrix) {missing} is unknown: no checkpoint in the table moved "
                         "it; add a run that trains it, or weigh without it")
    wide = wide.assign(d2=wide.frobenius ** 2, w2=wide.w0 ** 2)
    sums = wide.groupby(["run", "step"], as_index=False)[["d2", "w2"]].sum()
    return sums.assign(rel_change=np.sqrt(sums.d2 / sums.w2))[["run", "step", "rel_change"]]


def stride(preset: str) -> int:
    """Notebook 07's checkpoint stride for ``preset`` (:data:`STRIDE`, else 4)."""
    return STRIDE.get(family(preset), 4)


def pick(entries: list[dict], stride: int) -> list[dict]:
    """Every ``stride``-th trained checkpoint (step > 0), counted back from the last, which is always kept."""
    trained = [e for e in entries if e["step"] > 0]
    return trained[::-1][::max(1, stride)][::-1]


def base_samples(cfg, base_path, n_prompts: int, n_per_prompt: int = 2, seed: int = 0,
                 use_cache: bool = True) -> tuple[list, list]:
    """``(prompts, responses)``: ``n_per_prompt`` responses sampled from the base at temperature 1
    to each of ``n_prompts`` training prompts (a fixed seeded subset; GRPO's prompts, as trained
    on), cached by the base's content hash."""
    from transformers import AutoTokenizer

    from ..checkpoints import load_checked
    from ..eval.generation import sample

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    rows = worlds.training_set(dataclasses.replace(cfg, method="grpo"), tokenizer)
    prompts = subset(list(rows["prompt"]), n_prompts, seed)
    file = cache.cache_dir("base_samples") / (cache.key(
        "base_samples", cache.checkpoint_digest(Path(base_path)), prompts, n_per_prompt, seed, cfg.max_new_tokens,
        SAMPLE_TEMPERATURE) + ".json")
    if use_cache and file.is_file():
        responses = json.loads(file.read_text())
    else:
        outs = sample(load_checked(base_path), tokenizer, prompts, n_per_prompt, cfg.max_new_tokens,
                      SAMPLE_TEMPERATURE, 1.0, seed, cfg.decode_rows, desc="base samples")
        responses = [list(r) for r in outs]
        if use_cache:
            file.write_text(json.dumps(responses))
    flat = [(p, r) for p, rs in zip(prompts, responses) for r in rs if r.strip()]
    return [p for p, _ in flat], [r for _, r in flat]


def collect(cfg, run_dirs: list[Path], kl_table: pd.DataFrame, weights_table: pd.DataFrame, stride: int = 1,
            n_prompts: int = 200, n_per_prompt: int = 2, progress: bool = False) -> pd.DataFrame:
    """One row per picked checkpoint (:func:`pick`) of every run: ``run, method, seed, step,
    fraction``, the out-of-domain changes (:data:`OUTCOMES`) and the predictors (:data:`PREDICTORS`)."""
    from transformers import AutoTokenizer

    from ..lenses import kl

    base_path = list_checkpoints(run_dirs[0])[0]["path"]
    base_vectors = worlds.score_models({"base": base_path}, cfg, general=True)[0]["base"]
    prompts, responses = base_samples(cfg, base_path, n_prompts, n_per_prompt)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    rel = relative_change(weights_table).set_index(["run", "step"]).rel_change
    kl_b = kl_table.set_index(["run", "step"]).kl
    rows = []
    for run_dir in run_dirs:
        run = Path(run_dir).name
        chosen = pick(list_checkpoints(run_dir), stride)
        labelled = [(e["path"].name, e["path"]) for e in chosen]
        sampled = kl.response_curve(base_path, labelled, prompts, responses, tokenizer, cfg.eval_batch_size,
                                    progress=False).set_index("checkpoint").kl
        vectors = worlds.score_models(dict(labelled), cfg, progress, general=True)[0]
        for e in chosen:
            acc, ret = ood_change(vectors[e["path"].name], base_vectors)
            rows.append({"run": run, "method": method_of(run), "seed": seed_of(run), "step": e["step"],
                         "fraction": e["fraction"], "ood_accuracy": acc, "ood_retention": ret,
                         "kl_sampled": float(sampled[e["path"].name]), "kl_math500": kl_b.get((run, e["step"]), np.nan),
                         "rel_change": rel.get((run, e["step"]), np.nan)})
    return pd.DataFrame(rows)


def fit(x, y) -> tuple[float, float, float]:
    """Least squares of ``y = a*x + b*x**2`` (no intercept: no change at the base); ``(a, b, R^2)``
    with R^2 = 1 - SS_res / SS_tot around the mean of ``y``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    design = np.stack([x, x * x], 1)
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    res = y - design @ np.array([a, b])
    tot = ((y - y.mean()) ** 2).sum()
    return float(a), float(b), float(1 - (res ** 2).sum() / tot) if tot > 0 else float("nan")


def fit_ci(x, y, n_boot: int = 1000, seed: int = 0, level: float = 0.95, groups=None) -> tuple[float, float]:
    """Bootstrap interval of :func:`fit`'s R^2. ``groups`` (one label per point, e.g. its run):
    whole groups are resampled, since the checkpoints of one run are not independent; without
    it, the points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    labels = np.arange(len(x)) if groups is None else np.asarray(groups)
    members = [np.nonzero(labels == g)[0] for g in dict.fromkeys(labels.tolist())]
    rng = np.random.default_rng(seed)
    r2 = []
    for _ in range(n_boot):
        i = np.concatenate([members[j] for j in rng.integers(0, len(members), len(members))])
        r2.append(fit(x[i], y[i])[2])
    r2 = np.array(r2)[np.isfinite(r2)]
    if not len(r2):
        return float("nan"), float("nan")
    return tuple(float(v) for v in np.percentile(r2, [50 * (1 - level), 50 * (1 + level)]))


def fit_table(points: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """``outcome, predictor, group, a, b, r2, lo, hi, n``: :func:`fit` of each outcome on each
    predictor, over all runs (one curve shared by GRPO and SFT) and per method family; the R^2
    interval resamples whole runs (:func:`fit_ci`)."""
    rows = []
    for outcome in OUTCOMES:
        for predictor in PREDICTORS:
            for group, methods in GROUPS.items():
                t = points[points.method.isin(methods)].dropna(subset=[outcome, predictor])
                if len(t) < 3:
                    continue
                a, b, r2 = fit(t[predictor], t[outcome])
                lo, hi = fit_ci(t[predictor], t[outcome], n_boot, groups=t.run)
                rows.append({"outcome": outcome, "predictor": predictor, "group": group, "a": a, "b": b,
                             "r2": r2, "lo": lo, "hi": hi, "n": len(t)})
    return pd.DataFrame(rows)


def forgetting_figure(points: pd.DataFrame, fits: pd.DataFrame,
                      title: str = "Forgetting against KL and weight change (every picked checkpoint, every seed)"):
    """Rows: accuracy and retention change; columns: the three predictors. Points by method, the
    shared fit (black) and each family's (dashed, over its own range), R^2 in the legend; x on a
    log scale, since GRPO's points sit two orders of magnitude below SFT-3ep's."""
    fig, axes = plt.subplots(len(OUTCOMES), len(PREDICTORS), figsize=(12, 6.4), squeeze=False)
    for i, outcome in enumerate(OUTCOMES):
        for j, predictor in enumerate(PREDICTORS):
            ax = axes[i][j]
            for method, t in points.groupby("method", sort=False):
                ax.scatter(t[predictor], t[outcome], s=12, alpha=0.75, color=COLORS.get(method),
                           label=NAMES.get(method, method))
            for group, style in (("all", "-"), ("grpo", "--"), ("sft", ":")):
                f = fits[(fits.outcome == outcome) & (fits.predictor == predictor) & (fits.group == group)]
                if len(f):
                    r = f.iloc[0]  # each fit drawn over its own points' range, never extrapolated
                    xs = points[points.method.isin(GROUPS[group])][predictor]
                    xs = xs[xs > 0]
                    if not len(xs):
                        continue
                    grid = np.geomspace(xs.min(), xs.max(), 100)
                    ax.plot(grid, r.a * grid + r.b * grid ** 2, style, color="black" if group == "all"
                            else COLORS["grpo" if group == "grpo" else "sft3ep"], lw=1,
                            label=f"fit {group}: R² {r.r2:.2f} [{r.lo:.2f}, {r.hi:.2f}]")
            ax.axhline(0, color="0.5", lw=0.6)
            if (points[predictor] > 0).any():
                ax.set_xscale("log")  # a checkpoint at exactly 0 (none here after step 0) is left off
            ax.set_xlabel(PREDICTORS[predictor], fontsize=9)
            if j == 0:
                ax.set_ylabel(OUTCOMES[outcome], fontsize=9)
            ax.legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- the frontier of training strengths -----------------------------------------------------------

def ood_change_ci(vectors: dict, base: dict, keys=GENERAL, n_boot: int = stats.N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% interval of :func:`ood_change`'s mean change over ``keys``: each benchmark's items are
    resampled (paired: the same items for model and base), independently per benchmark."""
    rng = np.random.default_rng(seed)
    found = [k for k in keys if k in vectors and k in base]
    if not found:
        return float("nan"), float("nan")
    draws = np.zeros(n_boot)
    for k in found:
        num, den = (np.asarray(v, float) for v in vectors[k])
        ref = np.asarray(base[k][0], float)
        i = rng.integers(0, len(num), (n_boot, len(num)))
        d = den[i].sum(1)
        draws += (num[i].sum(1) - ref[i].sum(1)) / d
    lo, hi = np.percentile(draws / len(found), [2.5, 97.5])
    return float(lo), float(hi)


def frontier_table(vectors: dict, rates: dict, diverged=()) -> pd.DataFrame:
    """``run, method, family, lr_factor, relative_rate, seed, status, gain, ood_accuracy,
    ood_retention`` and a 95% interval (``_lo``, ``_hi``) on each of the three: per trained run
    (``vectors``: model name -> benchmark vectors, the base's under ``"base"``; ``rates``: run ->
    its learning rate as a multiple of GRPO's), its in-domain gain (MATH-500 analogue accuracy
    against the base, paired item bootstrap) and out-of-domain changes (:func:`ood_change_ci`);
    each diverged run (:func:`scalpel_core.train.frontier.train_point`'s records) a row with status
    ``diverged`` and no scores."""
    base = vectors["base"]
    rows = [{"run": d["run"], "method": d["method"], "family": "GRPO" if d["method"] == "grpo" else "SFT",
             "lr_factor": d["lr_factor"], "relative_rate": d["relative_rate"], "seed": seed_of(d["run"]),
             "status": "diverged"} for d in diverged]
    for run, v in vectors.items():
        if run == "base":
            continue
        acc, ret = ood_change(v, base)
        method = method_of(run)
        gain_lo, gain_hi = stats.paired_delta_ci(base["math500"][0], *v["math500"])
        (acc_lo, acc_hi), (ret_lo, ret_hi) = ood_change_ci(v, base, GENERAL), ood_change_ci(v, base, GENERAL_RETENTION)
        rows.append({"run": run, "method": method, "family": "GRPO" if method == "grpo" else "SFT",
                     "lr_factor": lr_factor_of(run), "relative_rate": rates[run], "seed": seed_of(run),
                     "status": "done", "gain": stats.score(*v["math500"]) - stats.score(*base["math500"]),
                     "gain_lo": gain_lo, "gain_hi": gain_hi, "ood_accuracy": acc, "ood_accuracy_lo": acc_lo,
                     "ood_accuracy_hi": acc_hi, "ood_retention": ret, "ood_retention_lo": ret_lo,
                     "ood_retention_hi": ret_hi})
    return pd.DataFrame(rows)


def frontier_points(table: pd.DataFrame) -> pd.DataFrame:
    """One point per setting (method and rate) of the runs that finished: the mean over its seeds,
    with their min and max, and an interval (``_lo``/``_hi``): a single run's own 95% interval, or
    for several seeds the envelope of theirs (the lowest ``lo``, the highest ``hi``)."""
    if "status" in table:
        table = table[table.status == "done"]
    keys = ["family", "method", "lr_factor", "relative_rate"]
    values = ("gain", "ood_accuracy", "ood_retention")
    agg = {c: ["mean", "min", "max"] for c in values}
    agg |= {f"{c}_lo": "min" for c in values if f"{c}_lo" in table} | {f"{c}_hi": "max" for c in values if f"{c}_hi" in table}
    out = table.groupby(keys, sort=False).agg({**agg, "seed": "count"})
    out.columns = [c if s in ("mean",) or c.endswith(("_lo", "_hi")) else f"{c}_{s}" for c, s in out.columns]
    return out.rename(columns={"seed_count": "seeds"}).reset_index()


PATH = "sft1ep"  # SFT's learning-rate path (one epoch's schedule; SFT-3ep is another schedule, shown apart)


def along_path(path: pd.DataFrame, x: str, y: str, at: float) -> list[dict]:
    """Linear interpolation of ``y`` at ``x == at`` along a learning-rate path (``path``'s rows in
    order of ``relative_rate``): one result per consecutive pair of settings whose ``x`` values
    bracket ``at`` (a path that is not monotone in ``x`` can bracket it more than once), each with
    the two rates it lies between and, where ``path`` has them, ``y``'s interval ends interpolated
    the same way."""
    rows = path.sort_values("relative_rate").to_dict(orient="records")
    out = []
    for a, b in zip(rows, rows[1:]):
        x0, x1 = a[x], b[x]
        if not min(x0, x1) <= at <= max(x0, x1):
            continue
        t = 0.0 if x1 == x0 else (at - x0) / (x1 - x0)
        hit = {"between": (a["relative_rate"], b["relative_rate"]), "value": a[y] + t * (b[y] - a[y])}
        for end in ("lo", "hi"):
            if f"{y}_{end}" in a:
                hit[end] = a[f"{y}_{end}"] + t * (b[f"{y}_{end}"] - a[f"{y}_{end}"])
        out.append(hit)
    return out


def frontier_verdict(points: pd.DataFrame, outcome: str) -> dict:
    """At equal in-domain gain, does GRPO forget less than SFT? Premise: some GRPO setting's gain
    lies within SFT-1ep's learning-rate path (else ``not testable here``). For each such setting,
    SFT's change at that gain is interpolated along the path (:func:`along_path`, with its interval
    interpolated likewise); GRPO forgets *less* there when its change's interval lies above SFT's,
    *more* when below, else the point is undecided. ``verdict``: ``yes`` (GRPO less at every
    comparison), ``no`` (more at every one), ``undecided`` (otherwise), or ``not testable here``."""
    sft = points[points.method == PATH]
    grpo = points[points.family == "GRPO"]
    comparisons = []
    for r in grpo.to_dict(orient="records"):
        for hit in along_path(sft, "gain", outcome, r["gain"]):
            g_lo, g_hi = r.get(f"{outcome}_lo", r[outcome]), r.get(f"{outcome}_hi", r[outcome])
            s_lo, s_hi = hit.get("lo", hit["value"]), hit.get("hi", hit["value"])
            result = "less" if g_lo > s_hi else "more" if g_hi < s_lo else "undecided"
            comparisons.append({"method": r["method"], "lr_factor": r["lr_factor"], "gain": r["gain"],
                                "grpo": r[outcome], "grpo_lo": g_lo, "grpo_hi": g_hi, "sft_at_gain": hit["value"],
                                "sft_lo": s_lo, "sft_hi": s_hi, "sft_between": list(hit["between"]),
                                "grpo_forgets": result, "grpo_forgets_less": result == "less"})
    results = [c["grpo_forgets"] for c in comparisons]
    verdict = ("not testable here" if not results else "yes" if all(x == "less" for x in results)
               else "no" if all(x == "more" for x in results) else "undecided")
    return {"verdict": verdict, "comparisons": comparisons,
            "sft_gain_range": [float(sft.gain.min()), float(sft.gain.max())] if len(sft) else None,
            "grpo_gains": [float(g) for g in grpo.gain],
            "premise": "a GRPO setting's in-domain gain lies within SFT-1ep's learning-rate path",
            "premise_holds": bool(results)}


def frontier_figure(points: pd.DataFrame, diverged: list[dict] | None = None,
                    title: str = "The frontier of training strengths: in-domain gain against forgetting"):
    """In-domain gain (x) against the out-of-domain accuracy and retention change (y), one point per
    setting with its 95% intervals on both axes, each family joined in order of learning rate
    (SFT-1ep's path solid; SFT-3ep, another schedule, a square apart), the rates written beside
    the points (offset in turn so that they do not collide), and each comparison of
    :func:`frontier_verdict`: a hollow diamond at SFT's interpolated change at GRPO's gain, with its
    interpolated interval, joined to the GRPO point. Diverged runs are listed under the axes; the
    legend sits below the panels, off the data."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    offsets = [(5, 6), (5, -11), (-30, 6), (-30, -11)]
    for ax, outcome in zip(axes, OUTCOMES):
        for family, t in points.groupby("family", sort=False):
            t = t.assign(three=t.method == "sft3ep").sort_values(["three", "relative_rate"])
            color = COLORS["grpo"] if family == "GRPO" else COLORS["sft3ep"]
            path = t[t.method != "sft3ep"]
            ax.plot(path.gain, path[outcome], "-", color=color, alpha=0.5, lw=1.2,
                    label=f"{family}{'-1ep' if family == 'SFT' else ''}: learning-rate path")
            for i, r in enumerate(t.to_dict(orient="records")):
                lo_x, hi_x = r.get("gain_lo", r["gain"]), r.get("gain_hi", r["gain"])
                lo_y, hi_y = r.get(f"{outcome}_lo", r[outcome]), r.get(f"{outcome}_hi", r[outcome])
                ax.errorbar(r["gain"], r[outcome], xerr=[[r["gain"] - lo_x], [hi_x - r["gain"]]],
                            yerr=[[r[outcome] - lo_y], [hi_y - r[outcome]]],
                            fmt="s" if r["method"] == "sft3ep" else "o", color=color, ms=5, capsize=2, lw=0.8,
                            alpha=0.9)
                tag = f"{r['relative_rate']:g}x" + (", 3 ep" if r["method"] == "sft3ep" else "")
                ax.annotate(tag, (r["gain"], r[outcome]), fontsize=7, xytext=offsets[i % len(offsets)],
                            textcoords="offset points", color=color)
        for c in frontier_verdict(points, outcome)["comparisons"]:
            ax.errorbar(c["gain"], c["sft_at_gain"], yerr=[[c["sft_at_gain"] - c["sft_lo"]], [c["sft_hi"] - c["sft_at_gain"]]],
                        fmt="D", mfc="none", color=COLORS["sft3ep"], ms=6, capsize=2, lw=0.8)
            ax.plot([c["gain"], c["gain"]], [c["grpo"], c["sft_at_gain"]], ":", color="0.3", lw=1)
        ax.plot([], [], "D", mfc="none", color=COLORS["sft3ep"], label="SFT-1ep interpolated at GRPO's gain")
        ax.plot([], [], "s", color=COLORS["sft3ep"], label="SFT-3ep (3 epochs)")
        ax.axhline(0, color="0.5", lw=0.6)
        ax.axvline(0, color="0.5", lw=0.6)
        ax.set_xlabel("in-domain gain (MATH-500 analogue accuracy − base)")
        ax.set_ylabel(OUTCOMES[outcome])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if diverged:
        fig.text(0.01, 0.005, "diverged: " + "; ".join(f"{d['run']} ({d['relative_rate']:g}x)" for d in diverged),
                 fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
