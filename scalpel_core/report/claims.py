"""Every claim of the paper as a rule over our measured tables, with a verdict (notebook 08).

    numbers = claims.compute(claims.load_tables("tiny"))
    claims.write(numbers, figures_dir / "numbers.json")    # what paper/ takes its numbers from

Each claim is split into checks. A check ends in one of four states: **holds**, **fails**,
**not testable here** (its premise, a check of its own printed beside it, failed: e.g. "SFT gains
more than GRPO" when neither gains) or **underpowered** (an equivalence check whose interval is
too wide to decide either way). The benchmark rules (claims 1, 2, 6) are also applied to the
paper's own numbers (``paper_holds``), which shows that each rule says what the paper says.
"Significant" means a 95% interval that excludes 0; the paper's numbers have no intervals, so
there any non-zero change counts.

**The rules of the verdicts issue (#26)**, fixed and committed before any result of world version 3
existed (the paper names the commit), replacing the earlier rules where they differ:

1. Every check can go either way on data this world can produce. Ratio checks (claims 3 and 4) hold
   only when their seed-and-layer (or seed-and-cell) bootstrap interval excludes 1. "At least one
   significant drop" among several benchmarks is counted after Holm's correction within the family
   (:func:`scalpel_core.eval.stats.holm`). "Far above" tests a stated factor (``FAR_ABOVE``).
2. Size-confounded comparisons (GRPO is sparser / rotates less / shifts the spectrum less / moves
   attention more per unit of output change / is more concentrated / changes outputs less / SFT
   moves mid-layer MLPs more) are made twice: at the paper's settings (*reported*, marked
   "size-confounded" and not counted) and at matched update size from the frontier runs
   (:mod:`scalpel_core.report.matched`), which the verdict counts.
3. Claim 7 judges pass@k with one standard of evidence: GRPO's pass@1 advantage needs a
   seed-and-problem interval above 0 (premise); its "amplification" is the headroom-normalised
   shrink of the advantage from k = 1 to k = n beyond the base-against-its-resample null; problems
   gained are judged against the noise floor with an equivalence margin ``FEW``; and the frontier
   comparison at equal in-domain gain is a check of its own.
4. Claim 6 uses every seed (intervals with the seed variance) and may be *underpowered*.
5. Threshold sensitivity: every check with a threshold or margin (:data:`THRESHOLDS`) is evaluated
   again at half and at double it; a check whose state changes there is *knife-edge*
   (``numbers["sensitivity"]``; the paper's appendix).

**The verdict rule over training seeds** (unchanged from world version 2):

1. Every check is evaluated on each training seed alone (that seed's runs against the one base)
   -> "holds in k of n seeds", and once more on the seeds pooled (benchmark and retention changes:
   the mean over seeds with the two-stage seed-and-item bootstrap; weights and KL: the mean over
   seeds of each cell and point).
2. A check **holds** when it holds pooled *and* in more than half of the seeds; it is
   *seed-fragile* when the pooled result and the majority of seeds disagree (it then fails). A
   pooled "not testable here" or "underpowered" is the check's state.
3. Checks on the frontier runs (matched size, claim 7's frontier) have one seed per setting (the
   paper's 1x settings: the mean over their seeds): "1 of 1".
4. A claim is *reproduced* when every counted, testable check holds, *partly reproduced* when some
   do, *not reproduced* when none do (*underpowered* when none do and some are underpowered), and
   *not testable here* when no counted check is testable. Claim 5 is not reproduced when its
   matched ordering fails.

Retention (continuous scores beside the accuracies; :mod:`scalpel_core.eval.analogues`) enters
claims 1 and 2 as checks of their own. Without notebook 07's tables, claim 7 falls back to its
earlier checks from averages (:func:`conclusion_checks`) and the matched-size checks are absent.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths, worlds
from ..arch import middle_third
from ..eval import stats
from ..eval.scoring import GENERAL, GENERAL_RETENTION, LABELS, RETENTION_LABELS, label
from ..train.runs import RUN_CONFIG, method_of, seed_of
from . import abstract, inside, matched, published, weight_summary
from .amplify import FLOOR, NAMES
from .freeze_summary import effects

SFT_RUNS = ("sft1ep", "sft3ep")
HOLDS, FAILS, NOT_TESTABLE, UNDERPOWERED = "holds", "fails", "not testable here", "underpowered"
STATES = (HOLDS, FAILS, NOT_TESTABLE, UNDERPOWERED)
# Every threshold or margin a check uses (the sensitivity appendix evaluates each at half and double):
THRESHOLDS = {
    "FAR_MORE": 2.0,   # claim 4: "far more" = SFT's mean relative change at least this many times GRPO's
    "FAR_ABOVE": 2.0,  # claim 5 (as run): "far above" = SFT's final KL at least this many times GRPO's
    "JUMPED": 0.5,     # claim 5: "jumped" = this share of the final KL reached by EARLY (GRPO: below it)
    "RHO_MIN": 0.5,    # claim 8a: "follows" = Spearman rho over layers at least this (and p < ALPHA)
    "FULL_RANK": 0.9,  # claim 9b: "nearly full rank" = effective rank (99% energy) / min(m, n) at least this
    "FEW": 0.05,       # claim 7b/c: "few" problems gained beyond the noise floor = at most this share
    "EFFECT": 0.05,    # claim 6: the smallest benefit or harm of freezing worth detecting (accuracy)
}
EARLY = 0.25  # claim 5: the point of training where a jump must have happened (not a margin: a place)
ALPHA = 0.05  # the family-wise error of Holm's correction and the level of the permutation test
_SCALE = {"factor": 1.0}  # the sensitivity analysis scales every threshold at once (:func:`scaled`)
USES: dict = {}  # check name -> the threshold it uses (filled as the checks are named)
SIZE_CONFOUNDED: set = set()  # as-run comparisons at different update sizes: reported, not counted
# the two ablations the paper reports, as its code ran them (its q/k run trained lm_head too)
PAPER_FREEZE_SPECS = ("sft3ep-frozen-mid-mlp", "sft3ep-qk+lm_head")
KL_ORDERING = "SFT-1ep changes the outputs more than GRPO at matched weight change (final MATH-500 KL)"  # claim 5's gate
POOLED = "pooled"  # the seed label of the pooled rows (scalpel_core.eval.scoring.seed_tables)
# The result tables (paths.TABLES) the claims read.
TABLES = ("weights", "kl", "scores", "deltas", "graders", "freeze_scores", "freeze_effects", "freeze_frozen",
          "sparsity", "spectra", "attention")
INSIDE = ("sparsity", "spectra", "attention")  # notebook 06's tables: claims 8 and 9 (skipped where absent)
AMPLIFY = ("passk_crossing", "gained_lost")  # notebook 07's tables read by claim 7 (its earlier checks where absent)
EXTRA = ("passk", "forgetting", "forgetting_fits", "frontier", "matched")  # notebook 07's other tables
OPTIONAL = ("effects",)  # notebook 05's effect sizes (the abstract; absent from results before the verdicts issue)


_MEMO: dict = {}  # resampling results of one compute() call, shared by its sensitivity re-evaluations


def _memo(fn, *args):
    """``fn(*args)`` once per :func:`compute` call: the sensitivity analysis evaluates every check
    three times, and the intervals and permutation tests do not depend on any threshold. Tables
    are keyed by identity (they live for the whole call), everything else by value."""
    key = (fn.__qualname__, *(id(a) if isinstance(a, (pd.DataFrame, dict)) else tuple(a) if isinstance(a, list)
                              else a for a in args))
    if key not in _MEMO:
        _MEMO[key] = (fn(*args), args)  # the arguments are kept alive, so no id is reused within the call
    return _MEMO[key][0]


def th(key: str) -> float:
    """Threshold ``key`` of :data:`THRESHOLDS`, scaled by the sensitivity analysis (:func:`scaled`)."""
    return THRESHOLDS[key] * _SCALE["factor"]


@contextlib.contextmanager
def scaled(factor: float):
    """Evaluate the checks with every threshold multiplied by ``factor`` (0.5 and 2: the appendix)."""
    old, _SCALE["factor"] = _SCALE["factor"], factor
    try:
        yield
    finally:
        _SCALE["factor"] = old


def _uses(name: str, key: str) -> str:
    USES[name] = key
    return name


def _confounded(name: str) -> str:
    SIZE_CONFOUNDED.add(name)
    return name


def state(value) -> str:
    """A check's state from its value: True -> holds, False -> fails, a state string as it is."""
    if isinstance(value, str):
        if value not in STATES:
            raise ValueError(f"unknown check state {value!r}; states: {', '.join(STATES)}")
        return value
    return HOLDS if value else FAILS


def equivalence(lo: float, hi: float, margin: float, claim_small: bool) -> str:
    """An interval against a margin: claiming "small" (``claim_small``), it holds when the whole
    interval is at most ``margin`` and fails when it lies above; claiming "large", it holds when
    it lies above 0 and fails when it is at most ``margin``; otherwise underpowered."""
    if claim_small:
        return HOLDS if hi <= margin else FAILS if lo > margin else UNDERPOWERED
    return HOLDS if lo > 0 else FAILS if hi <= margin else UNDERPOWERED


def verdict(checks: dict) -> str:
    """A claim's verdict from its counted checks (name -> state or bool), as the docstring's rule 4."""
    tested = [state(v) for v in checks.values() if state(v) != NOT_TESTABLE]
    if not tested:
        return NOT_TESTABLE
    held = sum(v == HOLDS for v in tested)
    if held == len(tested):
        return "reproduced"
    if held:
        return "partly reproduced"
    return UNDERPOWERED if UNDERPOWERED in tested else "not reproduced"


def holds(pooled, per_seed: list) -> bool:
    """The verdict rule's step 2 for decided checks: pooled, and in more than half of the seeds."""
    return combine(pooled, per_seed) == HOLDS


def combine(pooled, per_seed: list) -> str:
    """A check's state over seeds: a pooled "not testable" or "underpowered" stands; otherwise it
    holds when it holds pooled and in more than half of the seeds, else it fails."""
    pooled = state(pooled)
    if pooled in (NOT_TESTABLE, UNDERPOWERED):
        return pooled
    k = sum(state(v) == HOLDS for v in per_seed)
    return HOLDS if pooled == HOLDS and k > len(per_seed) / 2 else FAILS


def load_tables(preset: str) -> dict:
    """The result tables of notebooks 02-06, or a FileNotFoundError naming the notebook to run."""
    out = {}
    for name in TABLES + AMPLIFY + EXTRA + OPTIONAL:
        file = paths.table_file(preset, name)
        if name in AMPLIFY + EXTRA + OPTIONAL and not file.is_file():
            continue  # notebook 07 not run: claim 7 keeps its earlier checks
        if not file.is_file():
            notebook = paths.TABLES[name][1]
            raise FileNotFoundError(f"{file} is missing: run notebooks/{notebook}.ipynb with "
                                    f"preset={preset!r} first (or `scalpel reproduce --preset {preset}`)")
        out[name] = pd.read_csv(file)
    return out


def _r(x, digits=4):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), digits)


def _ci(d, lo, hi, digits=3) -> str:
    return f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


# --- benchmarks: claims 1 and 2 -------------------------------------------------------------------

def paper_deltas() -> pd.DataFrame:
    """The paper's benchmark changes against its base, shaped like ``scoring.deltas`` (lo = hi = delta)."""
    rows = [{"model": m, "key": k, "delta": round(published.paper_score(k, m) - published.paper_score(k, "base"), 2)}
            for m in published.RUNS[1:] for k in published.BENCHMARKS]
    t = pd.DataFrame(rows)
    return t.assign(lo=t.delta, hi=t.delta)


def _significant_drops(rows: pd.DataFrame) -> pd.Series:
    """Which rows (one family of benchmarks of one model) drop significantly after Holm's
    correction within the family (their ``p`` column); rows without p-values (the paper's
    numbers, ``lo == hi``) drop significantly when their interval lies below 0."""
    if "p" in rows and rows.p.notna().all():
        return pd.Series(stats.holm(rows.p.to_numpy(), ALPHA), index=rows.index) & (rows.delta < 0)
    return rows.hi < 0


def _bench(deltas: pd.DataFrame, model: str) -> dict:
    t = deltas[deltas.model == model].set_index("key")
    general = t.loc[list(GENERAL)]
    m = t.loc["math500"]
    drops = _significant_drops(general)
    out = {"math500_delta": float(m.delta), "math500_lo": float(m.lo), "math500_hi": float(m.hi),
           "math500_gain": bool(m.lo > 0), "general_mean_delta": float(general.delta.mean()),
           "general_significant_drops": int(drops.sum()),
           "general_drops_uncorrected": int((general.hi < 0).sum())}
    keys = [k for k in GENERAL_RETENTION if k in t.index]
    if keys:
        r = t.loc[keys]
        sig = _significant_drops(r)
        out["retention"] = {k: {"delta": float(r.delta[k]), "lo": float(r.lo[k]), "hi": float(r.hi[k]),
                                "significant_drop": bool(sig[k])} for k in keys}
        out["retention_down"] = int((r.delta < 0).sum())
        out["retention_up"] = int((r.delta > 0).sum())
        out["retention_significant_drops"] = int(sig.sum())
    return out


def _drops(b: dict) -> str:
    sig = [f"{label(k)} {_ci(v['delta'], v['lo'], v['hi'])}" for k, v in b["retention"].items() if v["significant_drop"]]
    return (f"{b['retention_down']} of {len(b['retention'])} down, {b['retention_significant_drops']} significantly "
            "(Holm)" + (f" ({'; '.join(sig)})" if sig else ""))


def benchmark_checks(deltas: pd.DataFrame) -> dict:
    """Checks of claims 1 and 2 (states) on a deltas table of one seed, or pooled (ours), or
    :func:`paper_deltas`; the retention checks only where the table has retention scores. Also
    ``estimates`` (check -> the numbers behind it, as text) and ``premises`` (check -> its premise
    and whether it holds)."""
    g = _bench(deltas, "grpo")
    sft = {s: _bench(deltas, s) for s in SFT_RUNS}
    names = {"c1_gain": "GRPO gains in domain (MATH-500)",
             "c1_loss": "GRPO loses on general benchmarks (mean change < 0, at least one significant drop after Holm)",
             "c1_ret": "GRPO loses general retention (more retention scores drop than rise, at least one significant "
                       "drop after Holm)",
             "c2_gain": "an SFT run gains more in domain than GRPO (significant gain, larger than GRPO's)",
             "c2_loss": "every SFT run loses more on general benchmarks than GRPO (lower mean change, a significant "
                        "drop after Holm)",
             "c2_ret": "every SFT run loses more general retention than GRPO (lower change than GRPO's on most "
                       "retention scores, a significant drop after Holm)"}
    gains = any(b["math500_gain"] for b in (g, *sft.values()))
    premise = {"text": "some method gains in domain (a MATH-500 interval above 0)", "holds": gains}
    c1 = {names["c1_gain"]: state(g["math500_gain"]),
          names["c1_loss"]: state(g["general_mean_delta"] < 0 and g["general_significant_drops"] >= 1)}
    c2 = {names["c2_gain"]: (state(any(s["math500_gain"] and s["math500_delta"] > g["math500_delta"]
                                       for s in sft.values())) if gains else NOT_TESTABLE),
          names["c2_loss"]: state(all(s["general_mean_delta"] < g["general_mean_delta"]
                                      and s["general_significant_drops"] >= 1 for s in sft.values()))}
    math = {m: _ci(b["math500_delta"], b["math500_lo"], b["math500_hi"]) for m, b in (("grpo", g), *sft.items())}
    est = {names["c1_gain"]: f"MATH-500 {math['grpo']}",
           names["c1_loss"]: f"mean {g['general_mean_delta']:+.3f}, {g['general_significant_drops']} of "
                             f"{len(GENERAL)} significant drops after Holm ({g['general_drops_uncorrected']} uncorrected)",
           names["c2_gain"]: "; ".join(f"{NAMES[m]} {v}" for m, v in math.items()),
           names["c2_loss"]: "mean " + ", ".join(f"{NAMES[m]} {b['general_mean_delta']:+.3f} "
                                                f"({b['general_significant_drops']} significant drops)"
                                                for m, b in (("grpo", g), *sft.items()))}
    if "retention" in g:
        c1[names["c1_ret"]] = state(g["retention_down"] > g["retention_up"] and g["retention_significant_drops"] >= 1)
        lower = {s: sum(b["retention"][k]["delta"] < g["retention"][k]["delta"] for k in g["retention"])
                 for s, b in sft.items()}
        c2[names["c2_ret"]] = state(all(2 * lower[s] > len(g["retention"]) and b["retention_significant_drops"] >= 1
                                        for s, b in sft.items()))
        est[names["c1_ret"]] = _drops(g)
        est[names["c2_ret"]] = "; ".join(f"{NAMES[s]} below GRPO on {lower[s]} of {len(g['retention'])}, {_drops(b)}"
                                         for s, b in sft.items())
    return {"grpo": g, **sft, "c1": c1, "c2": c2, "estimates": est, "premises": {names["c2_gain"]: premise}}


# --- weights: claims 3 and 4 ----------------------------------------------------------------------

def _members(full: pd.DataFrame, method: str) -> list:
    """The runs of ``method`` in an unpooled table (its seeds)."""
    return [r for r in dict.fromkeys(full.run) if method_of(r) == method]


def weight_checks(table: pd.DataFrame, full: pd.DataFrame | None = None) -> dict:
    """Claims 3 and 4 on one seed's weight table or the pooled one (runs ``{method}-pooled``);
    ``full``: the same runs unpooled (every seed), for the seed-and-layer intervals of the ratio
    checks (default: ``table`` itself)."""
    full = table if full is None else full
    means = weight_summary.by_matrix(table)
    runs = {method_of(r): r for r in means.index}
    per_run, c3_top, c3_mid = {}, {}, {}
    qk_depth = weight_summary.depth_profile(table, ("q", "k"))
    for method, run in runs.items():
        order = list(means.loc[run].sort_values(ascending=False).index)
        point, lo, hi = _memo(weight_summary.middle_ratio_ci, full, _members(full, method))
        per_run[method] = {"ranking": order, "q": float(means.loc[run, "q"]), "k": float(means.loc[run, "k"]),
                           "mean": float(means.loc[run].mean()), "min": float(means.loc[run].min()),
                           "max": float(means.loc[run].max()),
                           "qk_peak_layer": int(qk_depth.loc[run, "peak_layer"]),
                           "middle_layers": qk_depth.loc[run, "middle_layers"],
                           "qk_middle_over_rest": float(qk_depth.loc[run, "middle_over_rest"]),
                           "qk_middle_over_rest_lo": lo, "qk_middle_over_rest_hi": hi}
        c3_top[method] = set(order[:2]) == {"q", "k"}
        c3_mid[method] = lo > 1
    c3 = {"q and k change most (top two matrix types) in every run": state(all(c3_top.values())),
          "q and k change most in the middle third of the layers in every run (middle / rest, interval above 1)":
              state(all(c3_mid.values()))}
    ratios = {}
    if "grpo" in runs:
        for s in SFT_RUNS:
            if s in runs:
                r = weight_summary.ratio(table, runs[s], runs["grpo"])
                point, lo, hi = _memo(weight_summary.mid_mlp_ratio_ci, full, _members(full, s), _members(full, "grpo"))
                ratios[s] = {"all": float(r["all"]), "mid_mlp": float(r["mid-layer MLP"]),
                             "other": float(r["other matrices"]), "mid_over_other": point,
                             "mid_over_other_lo": lo, "mid_over_other_hi": hi}
    far = _uses(f"every SFT run changes the weights at least {THRESHOLDS['FAR_MORE']:g}x as much as GRPO", "FAR_MORE")
    mid = _confounded("every SFT run moves mid-layer MLPs more (SFT/GRPO ratio over that of the other matrices, "
                      "interval above 1; as run)")
    c4 = {far: state(bool(ratios) and all(v["all"] >= th("FAR_MORE") for v in ratios.values())),
          mid: state(bool(ratios) and all(v["mid_over_other_lo"] > 1 for v in ratios.values()))}
    c3_names = list(c3)
    est = {c3_names[0]: "; ".join(f"{NAMES.get(m, m)} {', '.join(r['ranking'][:2])}" for m, r in per_run.items()),
           c3_names[1]: "q, k middle / rest: " + ", ".join(
               f"{NAMES.get(m, m)} {r['qk_middle_over_rest']:.2f} [{r['qk_middle_over_rest_lo']:.2f}, "
               f"{r['qk_middle_over_rest_hi']:.2f}]" for m, r in per_run.items()),
           far: "SFT / GRPO: " + ", ".join(f"{NAMES[s]} {v['all']:.1f}x" for s, v in ratios.items()),
           mid: "(mid-layer MLP ratio) / (other ratio): " + ", ".join(
               f"{NAMES[s]} {v['mid_over_other']:.2f} [{v['mid_over_other_lo']:.2f}, {v['mid_over_other_hi']:.2f}] "
               f"({v['mid_mlp']:.1f}x vs {v['other']:.1f}x)" for s, v in ratios.items())}
    return {"runs": per_run, "top_two_qk": c3_top, "qk_middle": c3_mid, "ratios": ratios, "c3": c3, "c4": c4,
            "estimates": est, "premises": {}}


# --- KL: claim 5 -----------------------------------------------------------------------------------

def at_fraction(table: pd.DataFrame, run: str, fraction: float) -> float:
    """KL of ``run`` at the checkpoint nearest ``fraction`` of training."""
    t = table[table.run == run]
    return float(t.loc[(t.fraction - fraction).abs().idxmin(), "kl"])


def kl_shape(table: pd.DataFrame, run: str) -> dict:
    """The shape of one run's KL curve: the KL at 10%, 15% and 25% of training and at the end,
    and the share of the final KL reached at 10% and at 25% (near 1: jumped early and plateaued;
    near the fraction itself: linear growth). Notebook 04 shows it; claim 5 tests it."""
    end = at_fraction(table, run, 1.0)
    at = {f: at_fraction(table, run, f) for f in (0.10, 0.15, EARLY)}
    return {"10%": at[0.10], "15%": at[0.15], "25%": at[EARLY], "end": end,
            "share_at_10": at[0.10] / end if end else float("nan"),
            "share_at_25": at[EARLY] / end if end else float("nan")}


def kl_summary(table: pd.DataFrame) -> pd.DataFrame:
    """run x shape (:func:`kl_shape`) with the paper's values read off its figure beside each run."""
    rows = {run: kl_shape(table, run) | {"paper": ", ".join(f"{k} {v}" for k, v in
                                                           published.KL.get(method_of(run), {}).items())}
            for run in dict.fromkeys(table.run)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")


def kl_checks(table: pd.DataFrame) -> dict:
    runs = {method_of(r): r for r in dict.fromkeys(table.run)}
    keep = ("10%", "15%", "25%", "end", "share_at_25")  # what numbers.json records of each shape
    curve = {method: {k: v for k, v in kl_shape(table, run).items() if k in keep} for method, run in runs.items()}
    g, sfts = curve.get("grpo"), [s for s in SFT_RUNS if s in curve]
    order = _confounded(_uses(f"every SFT run ends far above GRPO (final KL at least {THRESHOLDS['FAR_ABOVE']:g}x "
                              "GRPO's; as run)", "FAR_ABOVE"))
    jump = _uses(f"every SFT run jumps early (>= {THRESHOLDS['JUMPED']:.0%} of its final KL by {EARLY:.0%} of training)",
                 "JUMPED")
    slow = _uses(f"GRPO grows slowly (< {THRESHOLDS['JUMPED']:.0%} of its final KL at {EARLY:.0%} of training)", "JUMPED")
    c5 = {order: state(bool(g and sfts) and all(curve[s]["end"] >= th("FAR_ABOVE") * g["end"] for s in sfts)),
          jump: state(bool(sfts) and all(curve[s]["share_at_25"] >= th("JUMPED") for s in sfts)),
          slow: state(bool(g) and g["share_at_25"] < th("JUMPED"))}
    ratios = {s: curve[s]["end"] / g["end"] for s in sfts} if g else {}
    est = {order: "final KL " + ", ".join(f"{NAMES.get(m, m)} {c['end']:.3g}" for m, c in curve.items())
                  + ("; SFT / GRPO " + ", ".join(f"{NAMES[s]} {r:.1f}x" for s, r in ratios.items()) if ratios else ""),
           jump: f"share of the final KL at {EARLY:.0%}: " + ", ".join(f"{NAMES[s]} {curve[s]['share_at_25']:.2f}"
                                                                     for s in sfts),
           slow: f"GRPO {g['share_at_25']:.2f}" if g else "no GRPO run"}
    return {"curve": curve, "ratios": ratios, "c5": c5, "estimates": est, "premises": {}}


# --- freezing: claim 6 -----------------------------------------------------------------------------

def paper_freeze_effects() -> pd.DataFrame:
    """The paper's freeze ablation as ``freeze_summary.effects`` rows (against its full SFT-3ep)."""
    rows = []
    for model in PAPER_FREEZE_SPECS:
        for key in published.FREEZING:
            d = round(published.paper_freezing(key, model) - published.paper_freezing(key, "sft3ep"), 2)
            rows.append({"model": model, "key": key, "delta": d, "lo": d, "hi": d})
    return effects(pd.DataFrame(rows))


def freeze_checks(effects: pd.DataFrame) -> dict:
    """Claim 6 on one seed's freeze effects or the pooled ones (each ablation against full SFT-3ep,
    ``freeze_summary.effects``). "Helped" / "hurt": an interval above / below 0. A check that
    neither holds nor is ruled out by the margin ``EFFECT`` (an interval too wide to decide) is
    underpowered: "mixed" is ruled out for a strategy when every benchmark's interval lies below
    +EFFECT (it cannot have helped) or every one above -EFFECT (it cannot have hurt); "helps
    GPQA" is ruled out when every strategy's GPQA interval lies below +EFFECT."""
    per = {m: {"helped": sorted(t.key[t.effect == "helped"]), "hurt": sorted(t.key[t.effect == "hurt"])}
           for m, t in effects.groupby("model")}
    paper_specs = [m for m in PAPER_FREEZE_SPECS if m in per]
    margin = th("EFFECT")
    by = {m: effects[effects.model == m] for m in paper_specs}
    mixed = _uses("both of the paper's freezing strategies are mixed (help some benchmarks, hurt others)", "EFFECT")
    gpqa = _uses("a freezing strategy helps GPQA:Diamond", "EFFECT")
    if not paper_specs:
        c6 = {mixed: NOT_TESTABLE, gpqa: NOT_TESTABLE}
    else:
        one_sided = any((by[m].hi < margin).all() or (by[m].lo > -margin).all() for m in paper_specs)
        c6 = {mixed: HOLDS if all(per[m]["helped"] and per[m]["hurt"] for m in paper_specs)
              else FAILS if one_sided else UNDERPOWERED}
        rows = [t[t.key == "gpqa"] for t in by.values()]
        rows = [r.iloc[0] for r in rows if len(r)]
        c6[gpqa] = (NOT_TESTABLE if not rows else HOLDS if any(r.lo > 0 for r in rows)
                    else FAILS if all(r.hi < margin for r in rows) else UNDERPOWERED)
    def row(m, key):
        t = by[m][by[m].key == key]
        return _ci(*t.iloc[0][["delta", "lo", "hi"]]) if len(t) else "-"
    est = {mixed: "; ".join(f"{m}: helped {', '.join(per[m]['helped']) or 'none'}, hurt "
                            f"{', '.join(per[m]['hurt']) or 'none'}" for m in paper_specs),
           gpqa: "GPQA against full SFT-3ep: " + ", ".join(f"{m} {row(m, 'gpqa')}" for m in paper_specs)}
    return {"per_model": per, "c6": c6, "estimates": est, "premises": {}}


# --- inside the model: claims 8 and 9 ------------------------------------------------------------

def inside_checks(sub: dict, full: dict | None = None) -> dict:
    """Claims 8 and 9 on one seed's tables or the pooled ones (``sparsity``, ``spectra``,
    ``attention``, ``weights``, ``kl``): checks, estimates and the numbers behind them. ``full``:
    the unpooled ``attention`` and ``weights`` tables (every seed), for 8a's permutation test
    pooled across seeds (default: ``sub``). The GRPO-against-SFT comparisons here are as run
    (size-confounded, reported); their matched twins are :func:`matched_checks`."""
    full = sub if full is None else full
    att, w = sub["attention"], sub["weights"]
    runs = {method_of(r): r for r in dict.fromkeys(att.run)}
    g, sfts = runs.get("grpo"), [s for s in SFT_RUNS if s in runs]
    rho = {m: inside.layer_correlation(att, w, r) for m, r in runs.items()}
    tests = {m: _memo(inside.correlation_test, full["attention"], full["weights"], _members(full["attention"], m))
             for m in runs}
    jsd = {m: float(inside.final(att[att.run == r]).jsd.mean()) for m, r in runs.items()}
    kl_end = {m: at_fraction(sub["kl"], r, 1.0) for m, r in runs.items() if r in set(sub["kl"].run)}
    per_kl = {m: jsd[m] / kl_end[m] if kl_end.get(m) else float("nan") for m in runs}
    conc = {m: inside.concentration(att, r) for m, r in runs.items()}
    frac = {m: inside.per_run(sub["sparsity"], m) for m in ("frac_unchanged", "frac_unchanged_bf16", "frac_within_tol")}
    spec = {m: inside.per_run(sub["spectra"], m) for m in ("rank_fraction", "effective_rank_fraction",
                                                           inside.ROTATION, "spectrum_shift")}
    v = {k: {meth: float(t.get(r, float("nan"))) for meth, r in runs.items()} for k, t in {**frac, **spec}.items()}
    names = [_uses(f"the attention shift follows the q/k change over layers in every run (Spearman rho >= "
                   f"{THRESHOLDS['RHO_MIN']:g}, permutation p < {ALPHA:g})", "RHO_MIN"),
             _confounded("GRPO moves its attention more per unit of output change than every SFT run (JSD / final KL; "
                         "as run)"),
             _confounded("GRPO's attention shift is more concentrated than every SFT run's (most moved head / median "
                         "head; as run)"),
             _confounded("GRPO's update is sparser than every SFT run's (more entries unchanged in bf16; as run)"),
             _uses(f"GRPO's update is nearly full rank (effective rank at 99% energy / min(m, n) >= "
                   f"{THRESHOLDS['FULL_RANK']:g})", "FULL_RANK"),
             _confounded("GRPO rotates the principal subspaces less than every SFT run (largest angle, top 5%; as run)"),
             _confounded("GRPO shifts the spectrum less than every SFT run (as run)")]
    less = lambda key: state(bool(g and sfts) and all(v[key]["grpo"] < v[key][s] for s in sfts))  # noqa: E731
    more = lambda d: state(bool(g and sfts) and all(d["grpo"] > d[s] for s in sfts))  # noqa: E731
    c8 = {names[0]: state(bool(tests) and all(t[0] >= th("RHO_MIN") and t[1] < ALPHA for t in tests.values())),
          names[1]: more(per_kl), names[2]: more(conc)}
    c9 = {names[3]: more(v["frac_unchanged_bf16"]),
          names[4]: state(bool(g) and v["effective_rank_fraction"]["grpo"] >= th("FULL_RANK")),
          names[5]: less(inside.ROTATION), names[6]: less("spectrum_shift")}
    each = lambda fmt, d: ", ".join(f"{NAMES.get(m, m)} {fmt.format(x)}" for m, x in d.items())  # noqa: E731
    est = {names[0]: "rho (mean over seeds), permutation p: " + ", ".join(
               f"{NAMES.get(m, m)} {t[0]:+.2f} (p {t[1]:.3f})" for m, t in tests.items()),
           names[1]: "JSD / KL " + each("{:.3g}", per_kl) + "; JSD (bits) " + each("{:.3g}", jsd),
           names[2]: "top / median head " + each("{:.1f}x", conc),
           names[3]: "unchanged in bf16 " + each("{:.3f}", v["frac_unchanged_bf16"]) + "; bitwise "
                     + each("{:.3f}", v["frac_unchanged"]),
           names[4]: "effective rank (99%) / min(m, n) " + each("{:.3f}", v["effective_rank_fraction"])
                     + "; numerical rank " + each("{:.3f}", v["rank_fraction"]),
           names[5]: "largest angle " + each("{:.2f} deg", v[inside.ROTATION]),
           names[6]: "spectrum shift " + each("{:.2e}", v["spectrum_shift"])}
    return {"c8": c8, "c9": c9, "estimates": est, "premises": {},
            "numbers": {"rho": rho, "rho_test": {m: {"rho": t[0], "p": t[1]} for m, t in tests.items()},
                        "jsd": jsd, "jsd_per_kl": per_kl, "concentration": conc, **v,
                        "top_heads": {m: inside.top_heads(att, [r]) for m, r in runs.items()}}}


# --- at matched update size: claims 4, 5, 8 and 9 -------------------------------------------------

MATCHED = {  # key (claim, then a letter where a claim has several) -> (check, metric of report.matched)
    "c4": ("SFT-1ep moves mid-layer MLPs more than GRPO at matched weight change (mid-layer MLP change / "
           "other matrices' change)", "mid_mlp_share"),
    "c5": (KL_ORDERING, "kl_math500"),
    "c8b": ("GRPO moves its attention more than SFT-1ep at matched output change (attention JSD at equal final KL)",
            "jsd"),
    "c8c": ("GRPO's attention shift is more concentrated than SFT-1ep's at matched weight change", "concentration"),
    "c9a": ("GRPO's update is sparser than SFT-1ep's at matched weight change (entries unchanged in bf16)",
            "frac_unchanged_bf16"),
    "c9c": ("GRPO rotates the principal subspaces less than SFT-1ep at matched weight change", inside.ROTATION),
    "c9d": ("GRPO shifts the spectrum less than SFT-1ep at matched weight change", "spectrum_shift"),
}


def matched_checks(table: pd.DataFrame) -> dict:
    """The size-confounded comparisons made at matched update size on notebook 07's ``matched``
    table: claim -> {check: state}, with estimates and premises."""
    out, est, premises = {}, {}, {}
    for key, (name, metric) in MATCHED.items():
        result = matched.compare(table, metric)
        status = {"holds": HOLDS, "fails": FAILS, "not testable": NOT_TESTABLE}[result["status"]]
        out.setdefault(key[:2], {})[name] = status
        est[name] = matched.describe(result)
        premises[name] = {"text": result["premise"], "holds": result["premise_holds"]}
    return {"checks": out, "estimates": est, "premises": premises}


# --- claim 7 and the whole -------------------------------------------------------------------------

def conclusion_checks(bench: dict, weights: dict, kl: dict) -> tuple[dict, dict]:
    """Claim 7's earlier checks from averages (without notebook 07's tables) and their estimates."""
    sfts = [s for s in SFT_RUNS if s in weights["runs"] and s in kl["curve"]]
    g = bench["grpo"]
    names = ["GRPO amplifies: it gains in domain",
             "GRPO keeps general abilities better than every SFT run (higher mean change)",
             "GRPO moves the weights less than every SFT run",
             "GRPO's outputs stay closer to the base than every SFT run's (final KL)"]
    checks = {names[0]: state(g["math500_gain"]),
              names[1]: state(all(g["general_mean_delta"] > bench[s]["general_mean_delta"] for s in SFT_RUNS)),
              names[2]: state(bool(sfts) and all(weights["runs"]["grpo"]["mean"] < weights["runs"][s]["mean"] for s in sfts)),
              names[3]: state(bool(sfts) and all(kl["curve"]["grpo"]["end"] < kl["curve"][s]["end"] for s in sfts))}
    models = ["grpo", *SFT_RUNS]
    est = {names[0]: f"MATH-500 {_ci(g['math500_delta'], g['math500_lo'], g['math500_hi'])}",
           names[1]: "mean general change " + ", ".join(f"{NAMES[m]} {bench[m]['general_mean_delta']:+.3f}" for m in models),
           names[2]: "mean relative change " + ", ".join(f"{NAMES[m]} {weights['runs'][m]['mean']:.2e}"
                                                          for m in models if m in weights["runs"]),
           names[3]: "final KL " + ", ".join(f"{NAMES[m]} {kl['curve'][m]['end']:.3g}" for m in models if m in kl["curve"])}
    return checks, est


def amplify_checks(sub: dict, bench: dict) -> tuple[dict, dict, dict]:
    """Claim 7's checks from pass@k (one seed's rows of notebook 07's tables, or the pooled ones)
    and the benchmark deltas (``bench``: :func:`benchmark_checks`): states, estimates, premises.

    - (a) GRPO amplifies, pass@k: premise, GRPO beats the base at pass@1 (seed-and-problem interval
      above 0); check, its headroom-normalised advantage shrinks from k = 1 to k = n by more than
      the base's own resample does (``shrink_excess`` interval above 0; :func:`~scalpel_core.report.
      amplify.headroom_shrink`);
    - (b) GRPO gains few problems beyond chance: the share gained minus the noise floor's, with its
      interval, at most ``FEW`` (:func:`equivalence`: holds / fails / underpowered);
    - (c) every SFT run gains problems beyond chance (interval above 0; fails when at most ``FEW``);
    - (d) every SFT run forgets: significant drops (Holm) on at least half of the general retention scores.
    """
    cross = sub["passk_crossing"].set_index("method")
    gl = sub["gained_lost"].set_index("method")
    gl = gl[gl.seed.astype(str) != FLOOR] if "seed" in gl else gl
    n = max(int(c.split("@")[1]) for c in cross.columns if c.startswith("advantage@") and " " not in c)
    sfts = [m for m in SFT_RUNS if m in gl.index]
    few = THRESHOLDS["FEW"]
    names = [f"GRPO amplifies: its pass@k advantage over the base shrinks from k=1 to k={n}, relative to the "
             "base's headroom, more than the base's own resample does",
             _uses(f"GRPO amplifies: it gains at most {few:.0%} of the problems beyond the noise floor (the base "
                   f"against its own resample) in {n} samples", "FEW"),
             _uses(f"SFT replaces: every SFT run gains problems beyond the noise floor (interval above 0; fails at "
                   f"most {few:.0%})", "FEW"),
             "SFT replaces: every SFT run forgets (a significant drop after Holm on at least half of the general "
             "retention scores)"]
    has = "grpo" in cross.index and "advantage@1 lo" in cross.columns
    premise_a = has and cross.loc["grpo", "advantage@1 lo"] > 0
    with_null = has and "shrink_excess lo" in cross.columns and pd.notna(cross.loc["grpo", "shrink_excess lo"])
    checks = {names[0]: (NOT_TESTABLE if not premise_a or not with_null
                         else state(cross.loc["grpo", "shrink_excess lo"] > 0))}
    excess = "excess_lo" in gl.columns
    checks[names[1]] = (equivalence(gl.excess_lo["grpo"], gl.excess_hi["grpo"], th("FEW"), True)
                        if excess and "grpo" in gl.index else NOT_TESTABLE)
    if excess and sfts:
        each = [equivalence(gl.excess_lo[m], gl.excess_hi[m], th("FEW"), False) for m in sfts]
        checks[names[2]] = HOLDS if all(e == HOLDS for e in each) else FAILS if FAILS in each else UNDERPOWERED
    else:
        checks[names[2]] = NOT_TESTABLE
    checks[names[3]] = state(bool(sfts) and all(bench[m].get("retention") and bench[m]["retention_significant_drops"]
                                                >= len(bench[m]["retention"]) / 2 for m in sfts))
    iv = lambda m, c: _ci(cross.loc[m, c], cross.loc[m, f"{c} lo"], cross.loc[m, f"{c} hi"])  # noqa: E731
    k = lambda m: "none" if pd.isna(cross.k[m]) else f"{int(cross.k[m])}"  # noqa: E731
    est = {names[0]: "; ".join(
               f"{NAMES.get(m, m)}: advantage@1 {iv(m, 'advantage@1')}, shrink {cross.shrink[m]:+.3f} vs null "
               f"{cross.shrink_null[m]:+.3f}, excess {iv(m, 'shrink_excess')} (crossing k {k(m)})"
               for m in cross.index) if with_null else "no resampled base",
           names[1]: ("gained beyond the floor: " + ", ".join(
               f"{NAMES.get(m, m)} {_ci(gl.excess_gained[m], gl.excess_lo[m], gl.excess_hi[m])}" for m in gl.index)
               + f" (floor {gl.floor_gained.iloc[0]:.3f})") if excess else "no noise floor",
           names[3]: "; ".join(f"{NAMES[m]}: {_drops(bench[m])}" for m in sfts if bench[m].get("retention"))}
    est[names[2]] = est[names[1]]
    premises = {names[0]: {"text": "GRPO beats the base at pass@1 (seed-and-problem interval above 0)",
                           "holds": bool(premise_a)}}
    return checks, est, premises


FRONTIER_CHECK = ("GRPO forgets less than SFT-1ep at equal in-domain gain (out-of-domain accuracy change, the "
                  "frontier of learning rates)")


def frontier_check(frontier: pd.DataFrame) -> tuple[str, str, dict]:
    """Claim 7's check on the frontier (:func:`scalpel_core.report.forgetting.frontier_verdict` on
    the accuracy change): state, estimate and premise."""
    from .forgetting import frontier_points, frontier_verdict

    v = frontier_verdict(frontier_points(frontier), "ood_accuracy")
    status = {"yes": HOLDS, "no": FAILS, "undecided": UNDERPOWERED, "not testable here": NOT_TESTABLE}[v["verdict"]]
    est = "; ".join(f"GRPO {c['lr_factor']:g}x at gain {c['gain']:+.3f}: {c['grpo']:+.3f} [{c['grpo_lo']:+.3f}, "
                    f"{c['grpo_hi']:+.3f}] vs SFT-1ep {c['sft_at_gain']:+.3f} [{c['sft_lo']:+.3f}, {c['sft_hi']:+.3f}]"
                    for c in v["comparisons"]) or (
        f"SFT-1ep's gains {v['sft_gain_range']}, GRPO's {[round(g, 3) for g in v['grpo_gains']]}: no overlap")
    return status, est, {"text": v["premise"], "holds": v["premise_holds"]}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _r(obj, 6)
    return obj


def _scores(table: pd.DataFrame) -> dict:
    return {m: {r.key: {"score": r.score, "lo": r.lo, "hi": r.hi} for r in t.itertuples()}
            for m, t in table.groupby("model", sort=False)}


def _seed_labels(table: pd.DataFrame) -> pd.Series:
    """A table's ``seed`` column as text (a table without one is one seed, "0")."""
    return table.seed.astype(str) if "seed" in table else pd.Series("0", index=table.index)


def seeds(tables: dict) -> list[str]:
    """The training seeds of the main runs (from the weight table's run ids), as text."""
    return [str(s) for s in sorted({seed_of(r) for r in tables["weights"].run} - {None})] or ["0"]


def _of_seed(tables: dict, seed: str) -> dict:
    """The main runs' tables of one seed (the base's rows kept)."""
    d = tables["deltas"]
    keep = _seed_labels(d) == seed if "seed" in d else pd.Series(True, index=d.index)
    runs = {k: tables[k][tables[k].run.map(lambda r: str(seed_of(r)) == seed)]
            for k in ("weights", "kl", *INSIDE) if k in tables}
    rows = {k: tables[k][tables[k].seed.astype(str) == seed] for k in AMPLIFY if k in tables}
    return {"deltas": d[keep], **runs, **rows}


def _pooled(tables: dict) -> dict:
    """The main runs' tables pooled over seeds: the pooled benchmark rows, and the mean over seeds
    of every weight cell and KL point (run ids ``{method}-pooled``)."""
    d = tables["deltas"]
    out = {"deltas": d[_seed_labels(d) == POOLED] if "seed" in d else d}
    out |= {k: tables[k][tables[k].seed.astype(str) == POOLED] for k in AMPLIFY if k in tables}
    cell = ["run", "checkpoint", "step", "fraction", "layer", "matrix", "metric"]
    for k, value, keys in (("weights", "value", cell), ("kl", "kl", ["run", "checkpoint", "step", "fraction"]),
                           ("sparsity", "value", cell), ("spectra", "value", cell),
                           ("attention", ["jsd", "entropy_base", "entropy_ckpt", "entropy_change"],
                            ["run", "checkpoint", "step", "fraction", "layer", "head"])):
        if k not in tables:
            continue
        t = tables[k].assign(run=tables[k].run.map(lambda r: f"{method_of(r)}-{POOLED}"))
        out[k] = t.groupby(keys, as_index=False, sort=False)[value].mean()
    return out


def _evaluate(sub: dict, full: dict | None = None) -> dict:
    """Claims 1-5 and 7-9 on one seed's tables or the pooled ones (``full``: the unpooled main-run
    tables, for the intervals that resample seeds): states, estimates, premises and the numbers."""
    full = sub if full is None else full
    bench = benchmark_checks(sub["deltas"])
    weights, kl = weight_checks(sub["weights"], full["weights"]), kl_checks(sub["kl"])
    if all(k in sub for k in AMPLIFY):
        c7, c7_est, c7_premises = amplify_checks(sub, bench)
    else:
        (c7, c7_est), c7_premises = conclusion_checks(bench, weights, kl), {}
    out = {"bench": bench, "weights": weights, "kl": kl,
           "checks": {"c1": bench["c1"], "c2": bench["c2"], "c3": weights["c3"], "c4": weights["c4"],
                      "c5": kl["c5"], "c7": c7},
           "estimates": {**bench["estimates"], **weights["estimates"], **kl["estimates"], **c7_est},
           "premises": {**bench["premises"], **c7_premises}}
    if all(k in sub for k in INSIDE):
        out["inside"] = inside_checks(sub, full)
        out["checks"].update(c8=out["inside"]["c8"], c9=out["inside"]["c9"])
        out["estimates"].update(out["inside"]["estimates"])
    return out


def _freeze_by_seed(effects_table: pd.DataFrame) -> tuple[dict, dict]:
    """Claim 6 pooled and per seed: the pooled rows (seed "pooled") and each seed's, or one table
    without seeds as both."""
    labels = _seed_labels(effects_table)
    if POOLED not in set(labels):
        one = freeze_checks(effects_table)
        return one, {str(next(iter(set(labels)), "0")): one}
    return (freeze_checks(effects_table[labels == POOLED]),
            {s: freeze_checks(effects_table[labels == s]) for s in sorted(set(labels) - {POOLED})})


def _assess(tables: dict) -> dict:
    """Every check's state per seed and pooled, combined by the verdict rule, with the verdicts."""
    seed_list = seeds(tables)
    main = {k: tables[k] for k in ("weights", "kl", *INSIDE) if k in tables}
    per_seed = {s: _evaluate(_memo(_of_seed, tables, s)) for s in seed_list}
    pooled_tables = _memo(_pooled, tables)
    pooled = _evaluate(pooled_tables, main)
    freeze, freeze_seeds = _freeze_by_seed(tables["freeze_effects"])
    extra = {}  # frontier-run checks (one seed per setting): claim -> {name: (state, estimate, premise)}
    if "matched" in tables:
        m = matched_checks(tables["matched"])
        for c, named in m["checks"].items():
            for name, st in named.items():
                extra.setdefault(c, {})[name] = (st, m["estimates"][name], m["premises"][name])
    if "frontier" in tables and all(k in tables for k in AMPLIFY):
        extra.setdefault("c7", {})[FRONTIER_CHECK] = frontier_check(tables["frontier"])
    detail, checks = {}, {}
    for c in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", *(("c8", "c9") if "c8" in pooled["checks"] else ())):
        detail[c], checks[c] = {}, {}
        names = list(freeze["c6"] if c == "c6" else pooled["checks"][c]) + list(extra.get(c, {}))
        for name in names:
            premise = None
            if c in extra and name in extra[c]:
                at, est, premise = extra[c][name]
                by_seed, by_est, source = {"frontier": at}, {}, "frontier runs"
            elif c == "c6":
                at, est = freeze["c6"][name], freeze["estimates"][name]
                by_seed = {s: f["c6"][name] for s, f in freeze_seeds.items()}
                by_est = {s: f["estimates"][name] for s, f in freeze_seeds.items()}
                source = "seeds"
            else:
                at, est = pooled["checks"][c][name], pooled["estimates"][name]
                by_seed = {s: per_seed[s]["checks"][c][name] for s in seed_list}
                by_est = {s: per_seed[s]["estimates"][name] for s in seed_list}
                premise, source = pooled["premises"].get(name), "seeds"
            checks[c][name] = combine(at, list(by_seed.values()))
            k = sum(state(v) == HOLDS for v in by_seed.values())
            decided = state(at) in (HOLDS, FAILS)
            detail[c][name] = {"state": checks[c][name], "holds": checks[c][name] == HOLDS,
                               "pooled": state(at), "seeds": {s: state(v) for s, v in by_seed.items()}, "k": k,
                               "n": len(by_seed), "source": source,
                               "fragile": decided and (state(at) == HOLDS) != (k > len(by_seed) / 2),
                               "counted": name not in SIZE_CONFOUNDED,
                               "size_confounded": name in SIZE_CONFOUNDED,
                               "threshold": USES.get(name), "premise": premise,
                               "estimate": est, "seed_estimates": by_est}
    verdicts = {c: verdict({n: v for n, v in named.items() if n not in SIZE_CONFOUNDED}) for c, named in checks.items()}
    gate = checks["c5"].get(KL_ORDERING)
    if gate in (FAILS, NOT_TESTABLE):  # without the matched ordering the curves' shapes do not matter
        verdicts["c5"] = "not reproduced" if gate == FAILS else NOT_TESTABLE
    return {"seeds": seed_list, "per_seed": per_seed, "pooled": pooled, "pooled_tables": pooled_tables,
            "freeze": freeze, "checks": checks, "detail": detail, "verdicts": verdicts}


def sensitivity(tables: dict, base: dict | None = None) -> dict:
    """Every check with a threshold or margin (:data:`USES`) at half and at double it (every
    threshold scaled at once: each check uses one), with ``knife_edge`` where its state changes."""
    base = base or _assess(tables)
    with scaled(0.5):
        half = _assess(tables)
    with scaled(2.0):
        double = _assess(tables)
    out = {}
    for c, named in base["checks"].items():
        for name, st in named.items():
            key = USES.get(name)
            if key is None:
                continue
            lo, hi = half["checks"][c][name], double["checks"][c][name]
            out.setdefault(c, {})[name] = {"threshold": key, "value": THRESHOLDS[key], "state": st,
                                           "half": lo, "double": hi, "knife_edge": lo != st or hi != st}
    return out


def compute(tables: dict, preset: str = "") -> dict:
    """All numbers of the claims and their verdicts (JSON-ready), from :func:`load_tables`: every
    check per seed and pooled, with the verdict rule of this module's docstring, and the
    threshold sensitivity of every check that has a threshold."""
    _MEMO.clear()
    try:
        return _compute(tables, preset)
    finally:
        _MEMO.clear()


def _compute(tables: dict, preset: str) -> dict:
    a = _assess(tables)
    seed_list, per_seed, pooled, pooled_tables = a["seeds"], a["per_seed"], a["pooled"], a["pooled_tables"]
    checks, detail, verdicts, freeze = a["checks"], a["detail"], a["verdicts"], a["freeze"]
    paper_bench = benchmark_checks(paper_deltas())
    paper_freeze = freeze_checks(paper_freeze_effects())
    scores, deltas = tables["scores"], tables["deltas"]
    bench, weights, kl = pooled["bench"], pooled["weights"], pooled["kl"]
    by_seed_tables = {s: {"deltas": {m: {r.key: {"delta": r.delta, "lo": r.lo, "hi": r.hi} for r in t.itertuples()}
                                     for m, t in deltas[_seed_labels(deltas) == s].groupby("model", sort=False)},
                          "scores": _scores(scores[_seed_labels(scores) == s])} for s in seed_list}
    out = {
        "preset": preset, "labels": LABELS, "retention_labels": RETENTION_LABELS,
        "seeds": seed_list, "n_seeds": len(seed_list),
        "verdicts": verdicts, "checks": checks, "check_detail": detail,
        "sensitivity": sensitivity(tables, a), "thresholds": THRESHOLDS,
        "paper_holds": {"c1": paper_bench["c1"], "c2": paper_bench["c2"], "c6": paper_freeze["c6"]},
        "benchmarks": {"scores": _scores(scores[_seed_labels(scores) == POOLED] if "seed" in scores else scores),
                       "deltas": {m: {r.key: {"delta": r.delta, "lo": r.lo, "hi": r.hi} for r in t.itertuples()}
                                  for m, t in pooled_tables["deltas"].groupby("model", sort=False)},
                       "by_seed": by_seed_tables,
                       "summary": {m: bench[m] for m in ("grpo", *SFT_RUNS)},
                       "paper": {m: {k: published.paper_score(k, m) for k in published.BENCHMARKS}
                                 for m in published.RUNS},
                       "paper_summary": {m: paper_bench[m] for m in ("grpo", *SFT_RUNS)}},
        "weights": {k: weights[k] for k in ("runs", "ratios")},
        "kl": {"curve": kl["curve"], "ratios": kl["ratios"], "paper": published.KL,
               "paper_ratios": {s: published.KL[s]["end"] / published.KL["grpo"]["end"] for s in SFT_RUNS}},
        "by_seed": {s: {"benchmarks": {m: e["bench"][m] for m in ("grpo", *SFT_RUNS)},
                        "weights": {k: e["weights"][k] for k in ("runs", "ratios")},
                        "kl": {"curve": e["kl"]["curve"], "ratios": e["kl"]["ratios"]}} for s, e in per_seed.items()},
        "freezing": {"scores": _scores(tables["freeze_scores"][_seed_labels(tables["freeze_scores"]) == POOLED]
                                       if POOLED in set(_seed_labels(tables["freeze_scores"])) else tables["freeze_scores"]),
                     "effects": freeze["per_model"],
                     "n_seeds": len(_freeze_by_seed(tables["freeze_effects"])[1]),
                     "paper": {m: {k: published.paper_freezing(k, m) for k in published.FREEZING}
                               for m in published.FREEZING_RUNS},
                     "paper_effects": paper_freeze["per_model"],
                     "frozen_check": {r["run"]: {"frozen_cells": r["frozen cells"],
                                                 "largest_change": r["largest change of a frozen cell"]}
                                      for _, r in tables["freeze_frozen"].iterrows()}},
        "paper_weights": {"sft1ep_change": list(published.SFT1EP_CHANGE)},
        "inside": ({"pooled": pooled["inside"]["numbers"],
                    "by_seed": {s: e["inside"]["numbers"] for s, e in per_seed.items()}} if "inside" in pooled else {}),
        "graders": tables["graders"].set_index("model").to_dict(orient="index"),
        "amplify": amplify_numbers(tables),
        "effects": ({r["method"]: {} for r in tables["effects"].to_dict(orient="records")} if "effects" in tables else {}),
    }
    for r in (tables["effects"].to_dict(orient="records") if "effects" in tables else []):
        out["effects"][r["method"]][r["outcome"]] = {"delta": r["delta"], "lo": r["lo"], "hi": r["hi"]}
    out = _jsonable(out)
    out["abstract"] = abstract.build(out)
    return out


def amplify_numbers(tables: dict) -> dict:
    """Notebook 07's numbers for the paper: pass@k curves and crossings, gained and lost, the
    forgetting fits and the frontier with its verdicts (empty without notebook 07's tables)."""
    if not all(k in tables for k in AMPLIFY + EXTRA):
        return {}
    from .forgetting import OUTCOMES, frontier_points, frontier_verdict

    curves = tables["passk"].groupby(["method", "k"], sort=False).pass_at_k.agg(["mean", "min", "max"]).reset_index()
    settings = frontier_points(tables["frontier"])
    cross, gl, fits = tables["passk_crossing"], tables["gained_lost"], tables["forgetting_fits"]
    pooled = lambda t: {r["method"]: r for r in t[t.seed.astype(str) == POOLED].to_dict(orient="records")}  # noqa: E731
    shared = fits[fits.group == "all"]
    by_outcome = {o: {r["predictor"]: r for r in t.to_dict(orient="records")} for o, t in shared.groupby("outcome", sort=False)}
    best = {o: max(rows, key=lambda p: rows[p]["r2"]) for o, rows in by_outcome.items()}
    return {"n": int(tables["passk"].k.max()), "n_problems": int(cross.problems.iloc[0]),
            "curves": {m: t.drop(columns="method").to_dict(orient="records") for m, t in curves.groupby("method", sort=False)},
            "crossing": pooled(cross), "crossing_by_seed": cross[cross.seed.astype(str) != POOLED].to_dict(orient="records"),
            "gained_lost": pooled(gl), "gained_lost_by_seed": gl[~gl.seed.astype(str).isin([POOLED, FLOOR])].to_dict(orient="records"),
            "noise_floor": next(iter(gl[gl.seed.astype(str) == FLOOR].to_dict(orient="records")), None),
            "fits": {o: {g: {r["predictor"]: r for r in t[t.group == g].to_dict(orient="records")} for g in dict.fromkeys(t.group)}
                     for o, t in fits.groupby("outcome", sort=False)},
            "best_predictor": best,
            "n_checkpoints": len(tables["forgetting"]), "checkpoint_fractions": sorted({round(f * 20) / 20 for f in tables["forgetting"].fraction}),  # to 5%
            "frontier": settings.to_dict(orient="records"),
            "frontier_runs": tables["frontier"].to_dict(orient="records"),
            "frontier_verdict": {o: frontier_verdict(settings, o) for o in OUTCOMES}}


def run_ids(tables: dict) -> list:
    """Every run the tables cover: the main runs (weights) and the freeze ablation's."""
    return list(dict.fromkeys([*tables["weights"].run, *tables["freeze_frozen"].run]))


def setup(preset: str, run_ids) -> dict:
    """The preset's model and runs, as configured and as trained (steps, learning rate, checkpoints)."""
    import dataclasses

    from .. import checkpoints, config
    from ..train import trainer

    cfg = config.load(preset)
    out = {"world": cfg.world, "n_layers": cfg.n_layers, "hidden_size": cfg.hidden_size,
           "n_train_problems": cfg.n_train_problems, "problems_per_step": cfg.problems_per_step,
           "num_generations": cfg.num_generations, "max_new_tokens": cfg.max_new_tokens,
           "sequences_per_step": trainer.sequences_per_step(cfg), "train_steps": cfg.train_steps,
           "sft1ep_steps": cfg.sft1ep_steps or cfg.train_steps,
           "sft_loss": cfg.sft_loss, "kl_template": cfg.kl_template, "reward_style": cfg.reward_style,
           "bf16": cfg.bf16, "train_seed": cfg.train_seed,
           "frozen_mid_mlp_layers": "{}-{}".format(*middle_third(cfg.n_layers)), "runs": {}}
    for run in run_ids:
        directory = paths.artifacts_dir() / preset / run
        manifest, recorded = checkpoints.read_manifest(directory), json.loads((directory / RUN_CONFIG).read_text())
        lr = trainer.learning_rate(dataclasses.replace(
            cfg, method=recorded["method"], learning_rate=recorded["learning_rate"],
            sft3ep_lr_factor=recorded.get("sft3ep_lr_factor", cfg.sft3ep_lr_factor)))
        out["runs"][run] = {"steps": manifest["total_steps"], "checkpoints": len(manifest["schedule"]),
                            "learning_rate": lr}
        if worlds.miniature(cfg) and "n_parameters" not in out:
            out["n_parameters"] = json.loads((Path(manifest["base"]) / "base_meta.json").read_text())["n_parameters"]
    out["paper"] = published.SETUP
    return _jsonable(out)


def verdict_table(numbers: dict) -> pd.DataFrame:
    """claim x (check, state, counted, seeds, pooled estimate, verdict): one row per check;
    ``seeds`` is "k of n" (the seeds where the check holds alone)."""
    rows = []
    for c, checks in numbers["checks"].items():
        for name, held in checks.items():
            d = numbers.get("check_detail", {}).get(c, {}).get(name, {})
            rows.append({"claim": c[1:], "check": name, "state": state(held),
                         "counted": "no (as run, size-confounded)" if d.get("size_confounded") else "yes",
                         "seeds": f"{d.get('k', '?')} of {d.get('n', '?')}", "pooled": d.get("estimate", ""),
                         "verdict": numbers["verdicts"][c]})
    return pd.DataFrame(rows).set_index(["claim", "verdict", "check"])


def write(numbers: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(numbers, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    return path
