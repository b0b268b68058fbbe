"""Every claim of the paper as a rule over our measured tables, with a verdict (notebook 06).

    numbers = claims.compute(claims.load_tables("tiny"))
    claims.write(numbers, figures_dir / "numbers.json")    # what paper/ takes its numbers from

Each claim is split into checks that are true or false on the numbers; a claim is *reproduced*
when all its checks hold, *partly reproduced* when some do, *not reproduced* when none do (claim 5:
when its ordering check fails). The benchmark rules (claims 1, 2, 6) are also applied to the
paper's own numbers (``paper_holds``), which shows that each rule says what the paper says.
"Significant" means a paired bootstrap 95% interval that excludes 0; the paper's numbers have
no intervals, so there any non-zero change counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths, worlds
from ..arch import middle_third
from ..eval.scoring import LABELS
from ..train.runs import RUN_CONFIG, method_of
from . import published, weight_summary
from .freeze_summary import effects

GENERAL = ("mmlu", "mmlu_pro", "gpqa", "ifeval_prompt", "ifeval_inst")  # out-of-domain abilities
SFT_RUNS = ("sft1ep", "sft3ep")
FAR_MORE = 2.0  # claim 4: "far more" = at least twice GRPO's mean relative change
EARLY = 0.25  # claim 5: the point of training where a jump must have happened ...
JUMPED = 0.5  # ... by reaching this share of the final KL (GRPO "grows slowly": below it)
# the two ablations the paper reports, as its code ran them (its q/k run trained lm_head too)
PAPER_FREEZE_SPECS = ("sft3ep-frozen-mid-mlp", "sft3ep-qk+lm_head")
KL_ORDERING = "every SFT run ends far above GRPO (ordering, high vs low plateau)"  # claim 5's first check
# The result tables (paths.TABLES) the claims read.
TABLES = ("weights", "kl", "scores", "deltas", "graders", "freeze_scores", "freeze_effects", "freeze_frozen")


def verdict(checks: dict) -> str:
    held = sum(bool(v) for v in checks.values())
    return "reproduced" if held == len(checks) else "partly reproduced" if held else "not reproduced"


def load_tables(preset: str) -> dict:
    """The result tables of notebooks 02-05, or a FileNotFoundError naming the notebook to run."""
    out = {}
    for name in TABLES:
        file = paths.table_file(preset, name)
        if not file.is_file():
            notebook = paths.TABLES[name][1]
            raise FileNotFoundError(f"{file} is missing: run notebooks/{notebook}.ipynb with "
                                    f"preset={preset!r} first (or `scalpel reproduce --preset {preset}`)")
        out[name] = pd.read_csv(file)
    return out


def _r(x, digits=4):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), digits)


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
    return {"math500_delta": float(m.delta), "math500_lo": float(m.lo), "math500_hi": float(m.hi),
            "math500_gain": bool(m.lo > 0), "general_mean_delta": float(general.delta.mean()),
            "general_significant_drops": int((general.hi < 0).sum())}


def benchmark_checks(deltas: pd.DataFrame) -> dict:
    """Checks of claims 1 and 2 on a deltas table (ours, or :func:`paper_deltas`)."""
    g = _bench(deltas, "grpo")
    sft = {s: _bench(deltas, s) for s in SFT_RUNS}
    c1 = {"GRPO gains in domain (MATH-500)": g["math500_gain"],
          "GRPO loses on general benchmarks (mean change < 0, at least one significant drop)":
              g["general_mean_delta"] < 0 and g["general_significant_drops"] >= 1}
    c2 = {"an SFT run gains more in domain than GRPO (significant gain, larger than GRPO's)":
              any(s["math500_gain"] and s["math500_delta"] > g["math500_delta"] for s in sft.values()),
          "every SFT run loses more on general benchmarks than GRPO (lower mean change, a significant drop)":
              all(s["general_mean_delta"] < g["general_mean_delta"] and s["general_significant_drops"] >= 1
                  for s in sft.values())}
    return {"grpo": g, **sft, "c1": c1, "c2": c2}


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
    return {"runs": per_run, "top_two_qk": c3_top, "qk_middle": c3_mid, "ratios": ratios, "c3": c3, "c4": c4}


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
    return {"curve": curve, "ratios": ratios, "c5": c5}


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
    return {"per_model": per, "c6": c6}


# --- claim 7 and the whole -------------------------------------------------------------------------

def conclusion_checks(bench: dict, weights: dict, kl: dict) -> dict:
    sfts = [s for s in SFT_RUNS if s in weights["runs"] and s in kl["curve"]]
    g = bench["grpo"]
    return {"GRPO amplifies: it gains in domain": g["math500_gain"],
            "GRPO keeps general abilities better than every SFT run (higher mean change)":
                all(g["general_mean_delta"] > bench[s]["general_mean_delta"] for s in SFT_RUNS),
            "GRPO moves the weights less than every SFT run": bool(sfts) and all(
                weights["runs"]["grpo"]["mean"] < weights["runs"][s]["mean"] for s in sfts),
            "GRPO's outputs stay closer to the base than every SFT run's (final KL)": bool(sfts) and all(
                kl["curve"]["grpo"]["end"] < kl["curve"][s]["end"] for s in sfts)}


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


def compute(tables: dict, preset: str = "") -> dict:
    """All numbers of the claims and their verdicts (JSON-ready), from :func:`load_tables`."""
    bench = benchmark_checks(tables["deltas"])
    paper_bench = benchmark_checks(paper_deltas())
    weights = weight_checks(tables["weights"])
    kl = kl_checks(tables["kl"])
    freeze = freeze_checks(tables["freeze_effects"])
    paper_freeze = freeze_checks(paper_freeze_effects())
    checks = {"c1": bench["c1"], "c2": bench["c2"], "c3": weights["c3"], "c4": weights["c4"], "c5": kl["c5"],
              "c6": freeze["c6"], "c7": conclusion_checks(bench, weights, kl)}
    verdicts = {c: verdict(v) for c, v in checks.items()}
    if not checks["c5"][KL_ORDERING]:
        verdicts["c5"] = "not reproduced"  # without the ordering the curves' shapes do not matter
    deltas = tables["deltas"]
    out = {
        "preset": preset, "labels": LABELS,
        "verdicts": verdicts, "checks": checks,
        "paper_holds": {"c1": paper_bench["c1"], "c2": paper_bench["c2"], "c6": paper_freeze["c6"]},
        "benchmarks": {"scores": _scores(tables["scores"]),
                       "deltas": {m: {r.key: {"delta": r.delta, "lo": r.lo, "hi": r.hi} for r in t.itertuples()}
                                  for m, t in deltas.groupby("model", sort=False)},
                       "summary": {m: bench[m] for m in ("grpo", *SFT_RUNS)},
                       "paper": {m: {k: published.paper_score(k, m) for k in published.BENCHMARKS}
                                 for m in published.RUNS},
                       "paper_summary": {m: paper_bench[m] for m in ("grpo", *SFT_RUNS)}},
        "weights": {k: weights[k] for k in ("runs", "ratios")},
        "kl": {"curve": kl["curve"], "ratios": kl["ratios"], "paper": published.KL,
               "paper_ratios": {s: published.KL[s]["end"] / published.KL["grpo"]["end"] for s in SFT_RUNS}},
        "freezing": {"scores": _scores(tables["freeze_scores"]), "effects": freeze["per_model"],
                     "paper": {m: {k: published.paper_freezing(k, m) for k in published.FREEZING}
                               for m in published.FREEZING_RUNS},
                     "paper_effects": paper_freeze["per_model"],
                     "frozen_check": {r["run"]: {"frozen_cells": r["frozen cells"],
                                                 "largest_change": r["largest change of a frozen cell"]}
                                      for _, r in tables["freeze_frozen"].iterrows()}},
        "paper_weights": {"sft1ep_change": list(published.SFT1EP_CHANGE)},
        "graders": tables["graders"].set_index("model").to_dict(orient="index"),
    }
    return _jsonable(out)


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
    """claim x (check, holds, verdict): one row per check."""
    rows = [{"claim": c[1:], "check": name, "holds": "yes" if held else "no", "verdict": numbers["verdicts"][c]}
            for c, checks in numbers["checks"].items() for name, held in checks.items()]
    return pd.DataFrame(rows).set_index(["claim", "verdict", "check"])


def write(numbers: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(numbers, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    return path
