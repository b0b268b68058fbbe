"""Every claim of the paper as a rule over our measured tables, with a verdict (notebook 08).

    numbers = claims.compute(claims.load_tables("tiny"))
    claims.write(numbers, figures_dir / "numbers.json")    # what paper/ takes its numbers from

Each claim is split into checks that are true or false on the numbers. The benchmark rules
(claims 1, 2, 6) are also applied to the paper's own numbers (``paper_holds``), which shows that
each rule says what the paper says. "Significant" means a 95% interval that excludes 0; the
paper's numbers have no intervals, so there any non-zero change counts.

**The verdict rule over training seeds** (fixed before any result of world version 2 existed;
not to be changed after seeing them):

1. Every check is evaluated on each training seed alone (that seed's three runs against the one
   base; benchmark intervals: the paired item bootstrap) -> "holds in k of n seeds".
2. Every check is evaluated once more on the seeds pooled: benchmark and retention changes are
   the mean over seeds, significant when the two-stage bootstrap 95% interval (resample seeds,
   then the items, one draw for every seed as all answer the same items;
   :func:`scalpel_core.eval.stats.seed_item_ci`) excludes 0; the
   weight and KL numbers are the mean over seeds of each cell / each point of the curve.
3. A check **holds** when it holds pooled *and* in more than half of the seeds (2 of 3; 2 of 2
   on smoke; 1 of 1 with one seed). It is *seed-fragile* when the pooled result and the majority
   of seeds disagree; such a check does not hold.
4. A claim is *reproduced* when all its checks hold, *partly reproduced* when some do, *not
   reproduced* when none do (claim 5: also when its ordering check does not hold).
5. The freeze ablation (claim 6) has one seed (the time budget); its checks are marked so.

**Claims 8 and 9** (issue 17; rules written before any number of notebook 06 existed, and not to
be changed after seeing them), on each run's final checkpoint, means over layers and matrices
(heads), under the same verdict rule over seeds:

- Claim 8, the poster's open hypothesis "reasoning training -> learning to attend elsewhere?":
  (a) in every run the attention shift follows the q/k change over layers: the Spearman
  correlation over layers between the mean q/k relative change and the mean attention JSD is at
  least ``RHO_MIN`` = 0.5; (b) GRPO moves where the model looks more than what it says: its mean
  attention JSD per unit of final KL is higher than every SFT run's; (c) GRPO's attention shift
  is concentrated: its most moved head has at least ``CONCENTRATED`` = 3x the JSD of the median head.
- Claim 9, the related findings: (a) GRPO's update is sparser than every SFT run's (a larger
  share of entries unchanged after rounding to bf16, the paper-scale storage); (b) GRPO's update
  is nearly full rank (mean rank(dW) / min(m, n) >= ``FULL_RANK`` = 0.9; Mukherjee et al. 2025);
  (c) GRPO rotates the principal subspaces less than every SFT run (largest principal angle of
  the top 5% left singular vectors); (d) GRPO shifts the spectrum less than every SFT run
  (Zhu et al. 2025).

**Claim 7** (issue 16; the rule committed before notebook 07 produced any number, and not to be
changed after seeing them; a timing test before it had shown pass@1 and pass@32 of the base,
grpo-s0 and sft3ep-s0 on tiny, and no problems gained or lost). With notebook 07's tables, the title claim is tested head-on,
on the pass@k samples (n per problem, the same problems for every model) and the benchmark deltas,
under the same verdict rule over seeds:

- (a) "GRPO amplifies", pass@k: GRPO beats the base at k = 1 (advantage > 0) and its advantage at
  k = n is smaller than at k = 1 (it shrinks or reverses at large k);
- (b) "GRPO amplifies", coverage: GRPO gains few problems the base never solves: the share of
  problems it solves at least once in n samples and the base never does is at most ``FEW`` = 0.02;
- (c) "SFT replaces", coverage: every SFT run gains more than ``FEW`` of such problems;
- (d) "SFT replaces", forgetting: every SFT run drops significantly (95% interval below 0) on at
  least half of the general retention scores.

Without notebook 07's tables, claim 7 falls back to its earlier checks from averages (in-domain
gain, general change, weight change and final KL; :func:`conclusion_checks`).

Retention (continuous scores beside the accuracies; :mod:`scalpel_core.eval.analogues`) enters
claims 1 and 2 as checks of their own: a "slight loss" may be a significant drop in retention
while accuracy holds. Retention scores have different scales, so the rules count directions
and significant drops instead of averaging them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths, worlds
from ..arch import middle_third
from ..eval.scoring import GENERAL, GENERAL_RETENTION, LABELS, RETENTION_LABELS, label
from ..train.runs import RUN_CONFIG, method_of, seed_of
from . import inside, published, weight_summary
from .amplify import FLOOR, NAMES
from .freeze_summary import effects

SFT_RUNS = ("sft1ep", "sft3ep")
FAR_MORE = 2.0  # claim 4: "far more" = at least twice GRPO's mean relative change
EARLY = 0.25  # claim 5: the point of training where a jump must have happened ...
JUMPED = 0.5  # ... by reaching this share of the final KL (GRPO "grows slowly": below it)
# the two ablations the paper reports, as its code ran them (its q/k run trained lm_head too)
PAPER_FREEZE_SPECS = ("sft3ep-frozen-mid-mlp", "sft3ep-qk+lm_head")
KL_ORDERING = "every SFT run ends far above GRPO (ordering, high vs low plateau)"  # claim 5's first check
RHO_MIN = 0.5  # claim 8a: "follows" = Spearman correlation over layers at least this
CONCENTRATED = 3.0  # claim 8c: most moved head / median head
FULL_RANK = 0.9  # claim 9b: "nearly full rank" = mean rank(dW) / min(m, n) at least this
FEW = 0.02  # claim 7b/7c: "few" problems gained = at most this share of the problems
POOLED = "pooled"  # the seed label of the pooled rows (scalpel_core.eval.scoring.seed_tables)
# The result tables (paths.TABLES) the claims read.
TABLES = ("weights", "kl", "scores", "deltas", "graders", "freeze_scores", "freeze_effects", "freeze_frozen",
          "sparsity", "spectra", "attention")
INSIDE = ("sparsity", "spectra", "attention")  # notebook 06's tables: claims 8 and 9 (skipped where absent)
AMPLIFY = ("passk_crossing", "gained_lost")  # notebook 07's tables read by claim 7 (its earlier checks where absent)
EXTRA = ("passk", "forgetting", "forgetting_fits", "frontier")  # notebook 07's other tables, reported beside


def verdict(checks: dict) -> str:
    held = sum(bool(v) for v in checks.values())
    return "reproduced" if held == len(checks) else "partly reproduced" if held else "not reproduced"


def holds(pooled: bool, per_seed: list) -> bool:
    """The verdict rule's step 3: pooled, and in more than half of the seeds."""
    return bool(pooled) and sum(map(bool, per_seed)) > len(per_seed) / 2


def load_tables(preset: str) -> dict:
    """The result tables of notebooks 02-06, or a FileNotFoundError naming the notebook to run."""
    out = {}
    for name in TABLES + AMPLIFY + EXTRA:
        file = paths.table_file(preset, name)
        if name in AMPLIFY + EXTRA and not file.is_file():
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


def _bench(deltas: pd.DataFrame, model: str) -> dict:
    t = deltas[deltas.model == model].set_index("key")
    general = t.loc[list(GENERAL)]
    m = t.loc["math500"]
    out = {"math500_delta": float(m.delta), "math500_lo": float(m.lo), "math500_hi": float(m.hi),
           "math500_gain": bool(m.lo > 0), "general_mean_delta": float(general.delta.mean()),
           "general_significant_drops": int((general.hi < 0).sum())}
    keys = [k for k in GENERAL_RETENTION if k in t.index]
    if keys:
        r = t.loc[keys]
        out["retention"] = {k: {"delta": float(r.delta[k]), "lo": float(r.lo[k]), "hi": float(r.hi[k])} for k in keys}
        out["retention_down"] = int((r.delta < 0).sum())
        out["retention_up"] = int((r.delta > 0).sum())
        out["retention_significant_drops"] = int((r.hi < 0).sum())
    return out


def _drops(b: dict) -> str:
    sig = [f"{label(k)} {_ci(v['delta'], v['lo'], v['hi'])}" for k, v in b["retention"].items() if v["hi"] < 0]
    return (f"{b['retention_down']} of {len(b['retention'])} down, {b['retention_significant_drops']} significantly"
            + (f" ({'; '.join(sig)})" if sig else ""))


def benchmark_checks(deltas: pd.DataFrame) -> dict:
    """Checks of claims 1 and 2 on a deltas table of one seed, or pooled (ours), or
    :func:`paper_deltas`; the retention checks only where the table has retention scores. Also
    ``estimates``: check -> the numbers behind it, as text."""
    g = _bench(deltas, "grpo")
    sft = {s: _bench(deltas, s) for s in SFT_RUNS}
    names = {"c1_gain": "GRPO gains in domain (MATH-500)",
             "c1_loss": "GRPO loses on general benchmarks (mean change < 0, at least one significant drop)",
             "c1_ret": "GRPO loses general retention (more retention scores drop than rise, at least one significant drop)",
             "c2_gain": "an SFT run gains more in domain than GRPO (significant gain, larger than GRPO's)",
             "c2_loss": "every SFT run loses more on general benchmarks than GRPO (lower mean change, a significant drop)",
             "c2_ret": "every SFT run loses more general retention than GRPO (lower change than GRPO's on most "
                       "retention scores, a significant drop)"}
    c1 = {names["c1_gain"]: g["math500_gain"],
          names["c1_loss"]: g["general_mean_delta"] < 0 and g["general_significant_drops"] >= 1}
    c2 = {names["c2_gain"]: any(s["math500_gain"] and s["math500_delta"] > g["math500_delta"] for s in sft.values()),
          names["c2_loss"]: all(s["general_mean_delta"] < g["general_mean_delta"] and s["general_significant_drops"] >= 1
                                for s in sft.values())}
    math = {m: _ci(b["math500_delta"], b["math500_lo"], b["math500_hi"]) for m, b in (("grpo", g), *sft.items())}
    est = {names["c1_gain"]: f"MATH-500 {math['grpo']}",
           names["c1_loss"]: f"mean {g['general_mean_delta']:+.3f}, {g['general_significant_drops']} of "
                             f"{len(GENERAL)} significant drops",
           names["c2_gain"]: "; ".join(f"{NAMES[m]} {v}" for m, v in math.items()),
           names["c2_loss"]: "mean " + ", ".join(f"{NAMES[m]} {b['general_mean_delta']:+.3f} "
                                                f"({b['general_significant_drops']} significant drops)"
                                                for m, b in (("grpo", g), *sft.items()))}
    if "retention" in g:
        c1[names["c1_ret"]] = g["retention_down"] > g["retention_up"] and g["retention_significant_drops"] >= 1
        lower = {s: sum(b["retention"][k]["delta"] < g["retention"][k]["delta"] for k in g["retention"])
                 for s, b in sft.items()}
        c2[names["c2_ret"]] = all(2 * lower[s] > len(g["retention"]) and b["retention_significant_drops"] >= 1
                                  for s, b in sft.items())
        est[names["c1_ret"]] = _drops(g)
        est[names["c2_ret"]] = "; ".join(f"{NAMES[s]} below GRPO on {lower[s]} of {len(g['retention'])}, {_drops(b)}"
                                         for s, b in sft.items())
    return {"grpo": g, **sft, "c1": c1, "c2": c2, "estimates": est}


# --- weights: claims 3 and 4 ----------------------------------------------------------------------

def weight_checks(table: pd.DataFrame) -> dict:
    means = weight_summary.by_matrix(table)
    runs = {method_of(r): r for r in means.index}
    per_run, c3_top, c3_mid = {}, {}, {}
    qk_depth = weight_summary.depth_profile(table, ("q", "k"))
    for method, run in runs.items():
        order = list(means.loc[run].sort_values(ascending=False).index)
        per_run[method] = {"ranking": order, "q": float(means.loc[run, "q"]), "k": float(means.loc[run, "k"]),
                           "mean": float(means.loc[run].mean()), "min": float(means.loc[run].min()),
                           "max": float(means.loc[run].max()),
                           "qk_peak_layer": int(qk_depth.loc[run, "peak_layer"]),
                           "middle_layers": qk_depth.loc[run, "middle_layers"],
                           "qk_middle_over_rest": float(qk_depth.loc[run, "middle_over_rest"])}
        c3_top[method] = set(order[:2]) == {"q", "k"}
        c3_mid[method] = per_run[method]["qk_middle_over_rest"] > 1
    c3 = {"q and k change most (top two matrix types) in every run": all(c3_top.values()),
          "q and k change most in the middle third of the layers in every run": all(c3_mid.values())}
    ratios = {}
    if "grpo" in runs:
        for s in SFT_RUNS:
            if s in runs:
                r = weight_summary.ratio(table, runs[s], runs["grpo"])
                ratios[s] = {"all": float(r["all"]), "mid_mlp": float(r["mid-layer MLP"]),
                             "other": float(r["other matrices"])}
    c4 = {f"every SFT run changes the weights at least {FAR_MORE:g}x as much as GRPO":
              bool(ratios) and all(v["all"] >= FAR_MORE for v in ratios.values()),
          "every SFT run moves mid-layer MLPs more (SFT/GRPO ratio above that of the other matrices)":
              bool(ratios) and all(v["mid_mlp"] > v["other"] for v in ratios.values())}
    c3_names, c4_names = list(c3), list(c4)
    est = {c3_names[0]: "; ".join(f"{NAMES.get(m, m)} {', '.join(r['ranking'][:2])}" for m, r in per_run.items()),
           c3_names[1]: "q, k middle / rest: " + ", ".join(f"{NAMES.get(m, m)} {r['qk_middle_over_rest']:.2f}"
                                                          for m, r in per_run.items()),
           c4_names[0]: "SFT / GRPO: " + ", ".join(f"{NAMES[s]} {v['all']:.1f}x" for s, v in ratios.items()),
           c4_names[1]: "mid-layer MLP vs other: " + ", ".join(f"{NAMES[s]} {v['mid_mlp']:.1f}x vs {v['other']:.1f}x"
                                                                for s, v in ratios.items())}
    return {"runs": per_run, "top_two_qk": c3_top, "qk_middle": c3_mid, "ratios": ratios, "c3": c3, "c4": c4,
            "estimates": est}


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
    c5 = {KL_ORDERING:
              bool(g and sfts) and all(curve[s]["end"] > g["end"] for s in sfts),
          f"every SFT run jumps early (>= {JUMPED:.0%} of its final KL by {EARLY:.0%} of training)":
              bool(sfts) and all(curve[s]["share_at_25"] >= JUMPED for s in sfts),
          f"GRPO grows slowly (< {JUMPED:.0%} of its final KL at {EARLY:.0%} of training)":
              bool(g) and g["share_at_25"] < JUMPED}
    ratios = {s: curve[s]["end"] / g["end"] for s in sfts} if g else {}
    names = list(c5)
    est = {names[0]: "final KL " + ", ".join(f"{NAMES.get(m, m)} {c['end']:.3g}" for m, c in curve.items()),
           names[1]: f"share of the final KL at {EARLY:.0%}: " + ", ".join(f"{NAMES[s]} {curve[s]['share_at_25']:.2f}"
                                                                         for s in sfts),
           names[2]: f"GRPO {g['share_at_25']:.2f}" if g else "no GRPO run"}
    return {"curve": curve, "ratios": ratios, "c5": c5, "estimates": est}


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
    per = {m: {"helped": sorted(t.key[t.effect == "helped"]), "hurt": sorted(t.key[t.effect == "hurt"])}
           for m, t in effects.groupby("model")}
    paper_specs = [m for m in PAPER_FREEZE_SPECS if m in per]
    c6 = {"both of the paper's freezing strategies are mixed (help some benchmarks, hurt others)":
              bool(paper_specs) and all(per[m]["helped"] and per[m]["hurt"] for m in paper_specs),
          "a freezing strategy helps GPQA:Diamond": any("gpqa" in per[m]["helped"] for m in paper_specs)}
    names = list(c6)
    est = {names[0]: "; ".join(f"{m}: helped {', '.join(per[m]['helped']) or 'none'}, hurt "
                               f"{', '.join(per[m]['hurt']) or 'none'}" for m in paper_specs),
           names[1]: "GPQA helped by " + (", ".join(m for m in paper_specs if "gpqa" in per[m]["helped"]) or "none")}
    return {"per_model": per, "c6": c6, "estimates": est}


# --- inside the model: claims 8 and 9 ------------------------------------------------------------

def inside_checks(sub: dict) -> dict:
    """Claims 8 and 9 on one seed's tables or the pooled ones (``sparsity``, ``spectra``,
    ``attention``, ``weights``, ``kl``): checks, estimates and the numbers behind them."""
    att, w = sub["attention"], sub["weights"]
    runs = {method_of(r): r for r in dict.fromkeys(att.run)}
    g, sfts = runs.get("grpo"), [s for s in SFT_RUNS if s in runs]
    rho = {m: inside.layer_correlation(att, w, r) for m, r in runs.items()}
    jsd = {m: float(inside.final(att[att.run == r]).jsd.mean()) for m, r in runs.items()}
    kl_end = {m: at_fraction(sub["kl"], r, 1.0) for m, r in runs.items() if r in set(sub["kl"].run)}
    per_kl = {m: jsd[m] / kl_end[m] if kl_end.get(m) else float("nan") for m in runs}
    conc = {m: inside.concentration(att, r) for m, r in runs.items()}
    frac = {m: inside.per_run(sub["sparsity"], m) for m in ("frac_unchanged", "frac_unchanged_bf16", "frac_within_tol")}
    spec = {m: inside.per_run(sub["spectra"], m) for m in ("rank_fraction", "effective_rank_fraction",
                                                           inside.ROTATION, "spectrum_shift")}
    v = {k: {meth: float(t.get(r, float("nan"))) for meth, r in runs.items()} for k, t in {**frac, **spec}.items()}
    names = [f"the attention shift follows the q/k change over layers in every run (Spearman rho >= {RHO_MIN:g})",
             "GRPO moves its attention more per unit of output change than every SFT run (JSD / final KL)",
             f"GRPO's attention shift is concentrated (most moved head >= {CONCENTRATED:g}x the median head)",
             "GRPO's update is sparser than every SFT run's (more entries unchanged in bf16)",
             f"GRPO's update is nearly full rank (mean rank(dW) / min(m, n) >= {FULL_RANK:g})",
             "GRPO rotates the principal subspaces less than every SFT run (largest angle, top 5%)",
             "GRPO shifts the spectrum less than every SFT run"]
    less = lambda key: bool(g and sfts) and all(v[key]["grpo"] < v[key][s] for s in sfts)  # noqa: E731
    c8 = {names[0]: bool(rho) and all(x >= RHO_MIN for x in rho.values()),
          names[1]: bool(g and sfts) and all(per_kl["grpo"] > per_kl[s] for s in sfts),
          names[2]: bool(g) and conc["grpo"] >= CONCENTRATED}
    c9 = {names[3]: bool(g and sfts) and all(v["frac_unchanged_bf16"]["grpo"] > v["frac_unchanged_bf16"][s] for s in sfts),
          names[4]: bool(g) and v["rank_fraction"]["grpo"] >= FULL_RANK,
          names[5]: less(inside.ROTATION), names[6]: less("spectrum_shift")}
    each = lambda fmt, d: ", ".join(f"{NAMES.get(m, m)} {fmt.format(x)}" for m, x in d.items())  # noqa: E731
    est = {names[0]: "rho " + each("{:+.2f}", rho),
           names[1]: "JSD / KL " + each("{:.3g}", per_kl) + "; JSD (bits) " + each("{:.3g}", jsd),
           names[2]: "top / median head " + each("{:.1f}x", conc),
           names[3]: "unchanged in bf16 " + each("{:.3f}", v["frac_unchanged_bf16"]) + "; bitwise "
                     + each("{:.3f}", v["frac_unchanged"]),
           names[4]: "rank / min(m, n) " + each("{:.3f}", v["rank_fraction"]) + "; effective (99%) "
                     + each("{:.3f}", v["effective_rank_fraction"]),
           names[5]: "largest angle " + each("{:.2f} deg", v[inside.ROTATION]),
           names[6]: "spectrum shift " + each("{:.2e}", v["spectrum_shift"])}
    return {"c8": c8, "c9": c9, "estimates": est,
            "numbers": {"rho": rho, "jsd": jsd, "jsd_per_kl": per_kl, "concentration": conc, **v,
                        "top_heads": {m: inside.top_heads(att, [r]) for m, r in runs.items()}}}


# --- claim 7 and the whole -------------------------------------------------------------------------

def conclusion_checks(bench: dict, weights: dict, kl: dict) -> tuple[dict, dict]:
    """Claim 7's checks and their estimates (text)."""
    sfts = [s for s in SFT_RUNS if s in weights["runs"] and s in kl["curve"]]
    g = bench["grpo"]
    names = ["GRPO amplifies: it gains in domain",
             "GRPO keeps general abilities better than every SFT run (higher mean change)",
             "GRPO moves the weights less than every SFT run",
             "GRPO's outputs stay closer to the base than every SFT run's (final KL)"]
    checks = {names[0]: g["math500_gain"],
              names[1]: all(g["general_mean_delta"] > bench[s]["general_mean_delta"] for s in SFT_RUNS),
              names[2]: bool(sfts) and all(weights["runs"]["grpo"]["mean"] < weights["runs"][s]["mean"] for s in sfts),
              names[3]: bool(sfts) and all(kl["curve"]["grpo"]["end"] < kl["curve"][s]["end"] for s in sfts)}
    models = ["grpo", *SFT_RUNS]
    est = {names[0]: f"MATH-500 {_ci(g['math500_delta'], g['math500_lo'], g['math500_hi'])}",
           names[1]: "mean general change " + ", ".join(f"{NAMES[m]} {bench[m]['general_mean_delta']:+.3f}" for m in models),
           names[2]: "mean relative change " + ", ".join(f"{NAMES[m]} {weights['runs'][m]['mean']:.2e}"
                                                          for m in models if m in weights["runs"]),
           names[3]: "final KL " + ", ".join(f"{NAMES[m]} {kl['curve'][m]['end']:.3g}" for m in models if m in kl["curve"])}
    return checks, est


def amplify_checks(sub: dict, bench: dict) -> tuple[dict, dict]:
    """Claim 7's checks from pass@k (one seed's rows of notebook 07's tables, or the pooled ones)
    and the benchmark deltas (``bench``: :func:`benchmark_checks`), with their estimates."""
    cross = sub["passk_crossing"].set_index("method")
    gl = sub["gained_lost"].set_index("method")
    n = max(int(c.split("@")[1]) for c in cross.columns if c.startswith("advantage@"))
    adv1, advn = cross["advantage@1"], cross[f"advantage@{n}"]
    sfts = [m for m in SFT_RUNS if m in gl.index]
    names = [f"GRPO amplifies: it beats the base at pass@1 and its advantage shrinks or reverses by pass@{n}",
             f"GRPO amplifies: it gains few problems the base never solves in {n} samples (at most {FEW:.0%})",
             f"SFT replaces: every SFT run gains problems the base never solves (more than {FEW:.0%})",
             "SFT replaces: every SFT run forgets (a significant drop on at least half of the general retention scores)"]
    g = "grpo" in cross.index
    checks = {names[0]: g and adv1["grpo"] > 0 and advn["grpo"] < adv1["grpo"],
              names[1]: "grpo" in gl.index and gl.gained["grpo"] <= FEW,
              names[2]: bool(sfts) and all(gl.gained[m] > FEW for m in sfts),
              names[3]: bool(sfts) and all(bench[m].get("retention_significant_drops", 0) >= len(bench[m].get("retention", {})) / 2
                                           and bench[m].get("retention") for m in sfts)}
    each = lambda f: ", ".join(f"{NAMES.get(m, m)} {f(m)}" for m in cross.index)  # noqa: E731
    k = lambda m: "none" if pd.isna(cross.k[m]) else f"{int(cross.k[m])}"  # noqa: E731
    est = {names[0]: f"advantage at k=1 -> k={n}: " + each(lambda m: f"{adv1[m]:+.3f} -> {advn[m]:+.3f} (crossing k {k(m)})"),
           names[1]: "gained / lost: " + ", ".join(f"{NAMES.get(m, m)} {gl.gained[m]:.3f} / {gl.lost[m]:.3f}" for m in gl.index),
           names[2]: "gained: " + ", ".join(f"{NAMES.get(m, m)} {gl.gained[m]:.3f}" for m in gl.index),
           names[3]: "; ".join(f"{NAMES[m]}: {_drops(bench[m])}" for m in sfts if bench[m].get("retention"))}
    return {c: bool(v) for c, v in checks.items()}, est


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


def _evaluate(sub: dict) -> dict:
    """Claims 1-5 and 7 on one seed's tables or the pooled ones: checks, estimates and the numbers."""
    bench, weights, kl = benchmark_checks(sub["deltas"]), weight_checks(sub["weights"]), kl_checks(sub["kl"])
    c7, c7_est = (amplify_checks(sub, bench) if all(k in sub for k in AMPLIFY)
                  else conclusion_checks(bench, weights, kl))
    out = {"bench": bench, "weights": weights, "kl": kl,
           "checks": {"c1": bench["c1"], "c2": bench["c2"], "c3": weights["c3"], "c4": weights["c4"],
                      "c5": kl["c5"], "c7": c7},
           "estimates": {**bench["estimates"], **weights["estimates"], **kl["estimates"], **c7_est}}
    if all(k in sub for k in INSIDE):
        out["inside"] = inside_checks(sub)
        out["checks"].update(c8=out["inside"]["c8"], c9=out["inside"]["c9"])
        out["estimates"].update(out["inside"]["estimates"])
    return out


def compute(tables: dict, preset: str = "") -> dict:
    """All numbers of the claims and their verdicts (JSON-ready), from :func:`load_tables`: every
    check per seed and pooled, with the verdict rule of this module's docstring."""
    seed_list = seeds(tables)
    per_seed = {s: _evaluate(_of_seed(tables, s)) for s in seed_list}
    pooled_tables = _pooled(tables)
    pooled = _evaluate(pooled_tables)
    paper_bench = benchmark_checks(paper_deltas())
    freeze = freeze_checks(tables["freeze_effects"])
    paper_freeze = freeze_checks(paper_freeze_effects())
    detail, checks = {}, {}
    for c in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", *(("c8", "c9") if "c8" in pooled["checks"] else ())):
        detail[c], checks[c] = {}, {}
        names = freeze["c6"] if c == "c6" else pooled["checks"][c]
        for name in names:
            if c == "c6":  # one seed: the freeze ablation's runs
                at, by_seed, est, by_est = freeze["c6"][name], {"0": freeze["c6"][name]}, freeze["estimates"][name], {}
            else:
                at, est = pooled["checks"][c][name], pooled["estimates"][name]
                by_seed = {s: per_seed[s]["checks"][c][name] for s in seed_list}
                by_est = {s: per_seed[s]["estimates"][name] for s in seed_list}
            checks[c][name] = holds(at, list(by_seed.values()))
            k = sum(map(bool, by_seed.values()))
            detail[c][name] = {"holds": checks[c][name], "pooled": bool(at), "seeds": by_seed, "k": k,
                               "n": len(by_seed), "fragile": bool(at) != (k > len(by_seed) / 2),
                               "estimate": est, "seed_estimates": by_est}
    verdicts = {c: verdict(v) for c, v in checks.items()}
    if not checks["c5"][KL_ORDERING]:
        verdicts["c5"] = "not reproduced"  # without the ordering the curves' shapes do not matter
    scores, deltas = tables["scores"], tables["deltas"]
    bench, weights, kl = pooled["bench"], pooled["weights"], pooled["kl"]
    by_seed_tables = {s: {"deltas": {m: {r.key: {"delta": r.delta, "lo": r.lo, "hi": r.hi} for r in t.itertuples()}
                                     for m, t in deltas[_seed_labels(deltas) == s].groupby("model", sort=False)},
                          "scores": _scores(scores[_seed_labels(scores) == s])} for s in seed_list}
    out = {
        "preset": preset, "labels": LABELS, "retention_labels": RETENTION_LABELS,
        "seeds": seed_list, "n_seeds": len(seed_list),
        "verdicts": verdicts, "checks": checks, "check_detail": detail,
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
        "freezing": {"scores": _scores(tables["freeze_scores"]), "effects": freeze["per_model"], "n_seeds": 1,
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
    }
    return _jsonable(out)


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
    """claim x (check, holds, seeds, pooled estimate, verdict): one row per check; ``seeds`` is
    "k of n" (the seeds where the check holds alone)."""
    rows = []
    for c, checks in numbers["checks"].items():
        for name, held in checks.items():
            d = numbers.get("check_detail", {}).get(c, {}).get(name, {})
            rows.append({"claim": c[1:], "check": name, "holds": "yes" if held else "no",
                         "seeds": f"{d.get('k', '?')} of {d.get('n', '?')}", "pooled": d.get("estimate", ""),
                         "verdict": numbers["verdicts"][c]})
    return pd.DataFrame(rows).set_index(["claim", "verdict", "check"])


def write(numbers: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(numbers, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    return path
