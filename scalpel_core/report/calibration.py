"""The calibration of the miniature setup (world v3): targets on the base, the teacher, the data and
GRPO's training signal, fixed before any post-trained v3 model was scored.

    from scalpel_core.report import calibration
    numbers = calibration.measure_setup(cfg, world, base_path)     # notebook 00, before training
    calibration.save(cfg, numbers)                                 # figures/{preset}/calibration.json
    signal = calibration.grpo_signal(cfg, {run: run_dir, ...})     # notebook 01 (GRPO), from the logs
    calibration.checks(numbers, signal)                            # each target: value, rule, met

The targets (:data:`TARGETS`) were committed in tests/test_calibration.py before the first v3
post-training result. The world is iterated only against them, never against out-of-domain scores,
retention, KL, weight change or a claim's verdict. Everything is measured on the dev split
(``World.dev``), which no benchmark, post-training problem or pretraining document contains.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import paths
from ..config import WORLD_VERSION, Config

# Each target and its rule. (lo, hi): a band; a number: a floor (or a ceiling for trace_share).
TARGETS = {
    "base_greedy": (0.30, 0.50),  # the base's greedy accuracy on the dev split (paper's base: MATH-500 0.31-0.45)
    "base_headroom": 0.20,  # sampled pass@32 - pass@1 on dev, at least: latent ability GRPO can amplify
    "knowledge": (0.30, 0.85),  # each knowledge analogue (MMLU, MMLU-Pro, GPQA): in the band, and above chance
    "probe_gain": 0.15,  # the teacher probe's greedy dev accuracy minus the base's, at least
    "trace_share": 0.80,  # longest teacher trace of the post-training set / the evaluation budget, at most
    "sft_format": 0.95,  # format compliance on dev of an SFT model (the probe), at least
    "grpo_informative_groups": 400,  # groups with reward variance in each GRPO run, at least
    "grpo_reward_trend": 0.0,  # the 95% interval of each GRPO run's reward slope lies above this
}
KNOWLEDGE = ("mmlu", "mmlu_pro", "gpqa")
FILE = "calibration.json"
SIGNAL_FILE = "grpo_signal.json"
ZERO_COLUMN = "groups/zero_reward_variance"  # logged by scalpel_core.train.rollouts.GRPOTrainer


def wilson_low(k: float, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson 95% interval of a proportion k/n."""
    if n == 0:
        return 0.0
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n)


def zero_variance_share(correct, n: int, group: int) -> float:
    """Expected share of GRPO groups of ``group`` samples whose accuracy is all equal, from per-problem
    success rates ``correct / n`` (a setup-only prediction of GRPO's signal)."""
    p = np.asarray(correct, dtype=float) / n
    return float(np.mean(p ** group + (1 - p) ** group))


def trace_lengths(world, tokenizer, cfg: Config) -> dict:
    """Token lengths of the teacher traces of the post-training set, against ``max_new_tokens``."""
    rows = world.k12_train[: cfg.n_train_problems or None]
    lengths = np.array([len(tokenizer(r["teacher_solution"], add_special_tokens=False)["input_ids"]) for r in rows])
    base = np.array([len(tokenizer(r["base_solution"], add_special_tokens=False)["input_ids"]) for r in rows])
    return {"max": int(lengths.max()), "p99": float(np.percentile(lengths, 99)), "mean": float(lengths.mean()),
            "base_mean": float(base.mean()), "budget": cfg.max_new_tokens,
            "share": float(lengths.max() / cfg.max_new_tokens), "lengths": lengths.tolist()}


def measure_setup(cfg: Config, world, base_path, progress: bool = False, probe: bool = True) -> dict:
    """Every setup target's number: the base on dev (greedy, sampled pass@k, predicted GRPO signal),
    the knowledge analogues against chance, the teacher traces' length, and the teacher probe."""
    from transformers import AutoTokenizer

    from ..checkpoints import load_checked
    from ..eval import passk
    from ..eval.analogues import chance_levels, score_chain, score_choice, score_maths
    from ..eval.rewards import has_format
    from ..train.probe import train_probe
    from ..world.base import META

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = load_checked(base_path)
    greedy = score_maths(model, tokenizer, world.dev, cfg, progress, desc="base, dev")
    n = passk.n_samples(cfg.preset)
    counts = passk.counts_folder(base_path, world.dev, n=n, max_new_tokens=cfg.max_new_tokens, progress=progress)
    curve = passk.curve(counts["correct"], n)
    ks = passk.ks_for(n)
    bench = world.benchmarks
    skills = {k: float(np.mean([r["correct"] for r in rows])) for k, rows in (
        ("mmlu", score_choice(model, tokenizer, bench["mmlu"], cfg)),
        ("mmlu_pro", score_choice(model, tokenizer, bench["mmlu_pro"], cfg)),
        ("gpqa", score_chain(model, tokenizer, bench["gpqa"], cfg)))}
    chance = chance_levels(world.benchmarks)
    sizes = {k: len(world.benchmarks[k]) for k in KNOWLEDGE}
    share = zero_variance_share(counts["correct"], n, cfg.num_generations)
    groups = cfg.train_steps * cfg.problems_per_step
    out = {
        "world_version": WORLD_VERSION, "preset": cfg.preset, "base_hash": cfg.base_hash,
        "git_commit": paths.git_commit(), "n_dev": len(world.dev),
        "base": {"greedy": float(np.mean([r["correct"] for r in greedy])), "samples": n,
                 "pass_at": {int(k): float(v) for k, v in zip(ks, curve)},
                 "headroom": float(curve[-1] - curve[0]),
                 "predicted_zero_variance": share, "predicted_informative_groups": groups * (1 - share),
                 "groups_per_run": groups},
        "knowledge": {k: {"score": float(skills[k]), "chance": float(chance[k]), "n": sizes[k],
                          "low": wilson_low(skills[k] * sizes[k], sizes[k])} for k in KNOWLEDGE},
        "traces": trace_lengths(world, tokenizer, cfg),
    }
    selection = json.loads((Path(base_path) / META).read_text()).get("selection")
    if selection:  # the world v4 candidate's base-selection rule: the step kept and its selection greedy
        out["base"]["selection"] = selection
    if probe:
        folder = train_probe(cfg, world, base_path, progress)
        meta = json.loads((folder / "probe_meta.json").read_text())
        pmodel = load_checked(folder)
        rows = score_maths(pmodel, tokenizer, world.dev, cfg, progress, desc="probe, dev")
        out["probe"] = {"greedy": float(np.mean([r["correct"] for r in rows])),
                        "format": float(np.mean([has_format(r["completion"]) for r in rows])),
                        "gain": float(np.mean([r["correct"] for r in rows])) - out["base"]["greedy"],
                        "steps": meta["steps"], "best_step": meta["best_step"],
                        "best_eval_loss": meta["best_eval_loss"], "plateaued": meta["plateaued"],
                        "curve": meta["curve"], "problems": cfg.probe_problems}
    return out


def _slope(fraction: np.ndarray, values: np.ndarray) -> float:
    return float(np.polyfit(fraction, values, 1)[0])


def reward_trend(values, n_boot: int = 2000, seed: int = 0) -> dict:
    """Least-squares slope of the training reward against the fraction of training (per whole run),
    with a 95% moving-block bootstrap interval (blocks of a tenth of the run keep the steps'
    autocorrelation)."""
    y = np.asarray(values, dtype=float)
    x = np.arange(1, len(y) + 1) / len(y)
    block = max(2, len(y) // 10)
    starts = np.arange(0, len(y) - block + 1)
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(n_boot):
        pick = np.concatenate([np.arange(s, s + block) for s in rng.choice(starts, math.ceil(len(y) / block))])[: len(y)]
        slopes.append(_slope(x[pick], y[pick]))
    lo, hi = np.percentile(slopes, [2.5, 97.5])
    return {"slope": _slope(x, y), "lo": float(lo), "hi": float(hi), "steps": len(y)}


def steps_for_trend(runs: dict, z_run: float = 1.96, z_all: float = 1.82) -> dict:
    """The GRPO steps a run needs for its reward-trend interval to lie above 0, predicted from measured
    runs (``grpo_signal``'s ``runs``) of one length. Assumes the reward rises at a constant rate per step
    (constant learning rate; the pooled slope of the runs) and the slope's standard error shrinks as
    1/sqrt(steps) (the bootstrap interval's half-width / z_run). The expected slope must clear the
    interval's half-width by ``z_all`` more standard errors, so that each of three runs meets the
    target with probability 0.9 ** (1/3) (z 1.82) and all three with 0.9:
    steps = measured steps x ((z_run + z_all) x se / slope) ** (2/3)."""
    trends = [r["trend"] for r in runs.values()]
    steps = {t["steps"] for t in trends}
    if len(steps) != 1:
        raise ValueError(f"the runs have different lengths {sorted(steps)}; predict from runs of one length")
    n = steps.pop()
    slope = float(np.mean([t["slope"] for t in trends]))
    se = float(np.mean([(t["hi"] - t["lo"]) / (2 * z_run) for t in trends]))
    need = math.inf if slope <= 0 else n * ((z_run + z_all) * se / slope) ** (2 / 3)
    return {"measured_steps": n, "pooled_slope": slope, "slope_se": se, "z": z_run + z_all,
            "steps_needed": need if math.isinf(need) else math.ceil(need)}


def grpo_signal(cfg: Config, run_dirs: dict) -> dict:
    """Per GRPO run (``{run: run_dir}``), from its training log: the share of groups with zero reward
    variance (``groups/zero_reward_variance``, scalpel_core.train.rollouts; TRL's own
    ``frac_reward_zero_std`` misses groups of equal inexact rewards and is kept beside it), the
    informative groups over the run, and the training-reward trend."""
    from ..checkpoints import CheckpointError
    from ..train.trainlog import train_log

    out = {}
    for run, folder in run_dirs.items():
        log = train_log(folder)
        if ZERO_COLUMN not in log:
            raise CheckpointError(f"{folder}: the training log has no {ZERO_COLUMN!r} column (a run trained before it "
                             "was logged); train the run again to measure its signal")
        zero = log[ZERO_COLUMN].to_numpy(dtype=float)
        out[run] = {"zero_variance_share": float(zero.mean()),
                    "trl_frac_reward_zero_std": float(log["frac_reward_zero_std"].mean()),
                    "informative_groups": float(((1 - zero) * cfg.problems_per_step).sum()),
                    "groups": int(len(zero) * cfg.problems_per_step),
                    "reward_first": float(log["reward"].iloc[: max(1, len(log) // 10)].mean()),
                    "reward_last": float(log["reward"].iloc[-max(1, len(log) // 10):].mean()),
                    "trend": reward_trend(log["reward"].to_numpy())}
    return out


def checks(numbers: dict | None, signal: dict | None = None) -> list[dict]:
    """Each target with its measured value, its rule and whether it is met (``numbers`` None: the
    GRPO signal's targets only)."""
    t = TARGETS
    rows = []

    def add(name, value, rule, met):
        rows.append({"target": name, "value": value, "rule": rule, "met": bool(met)})

    if numbers is None:
        numbers = {}
    b = numbers.get("base")
    if b is not None:
        _setup_checks(numbers, add)
    for run, s in (signal or {}).items():
        add(f"{run}: informative groups", round(s["informative_groups"], 1), f">= {t['grpo_informative_groups']} "
            f"(of {s['groups']}; zero-variance share {s['zero_variance_share']:.2f})",
            s["informative_groups"] >= t["grpo_informative_groups"])
        tr = s["trend"]
        add(f"{run}: reward trend", round(tr["slope"], 4), f"95% interval [{tr['lo']:.3f}, {tr['hi']:.3f}] above "
            f"{t['grpo_reward_trend']}", tr["lo"] > t["grpo_reward_trend"])
    return rows


def _setup_checks(numbers: dict, add) -> None:
    t = TARGETS
    b = numbers["base"]
    add("base greedy (dev)", round(b["greedy"], 3), f"in [{t['base_greedy'][0]}, {t['base_greedy'][1]}]",
        t["base_greedy"][0] <= b["greedy"] <= t["base_greedy"][1])
    add(f"base pass@{b['samples']} - pass@1 (dev)", round(b["headroom"], 3), f">= {t['base_headroom']}",
        b["headroom"] >= t["base_headroom"])
    for k, v in numbers["knowledge"].items():
        add(f"base {k}", round(v["score"], 3), f"in [{t['knowledge'][0]}, {t['knowledge'][1]}], "
            f"95% low {v['low']:.2f} > chance {v['chance']:.2f}",
            t["knowledge"][0] <= v["score"] <= t["knowledge"][1] and v["low"] > v["chance"])
    tr = numbers["traces"]
    add("longest teacher trace / budget", round(tr["share"], 3), f"<= {t['trace_share']} ({tr['max']} / {tr['budget']} tokens)",
        tr["share"] <= t["trace_share"])
    if "probe" in numbers:
        p = numbers["probe"]
        add("teacher probe - base (dev greedy)", round(p["gain"], 3), f">= {t['probe_gain']} "
            f"(probe {p['greedy']:.3f}, {'plateaued' if p['plateaued'] else 'hit the step cap'} at step {p['steps']})",
            p["gain"] >= t["probe_gain"])
        add("SFT format compliance (the probe, dev)", round(p["format"], 3), f">= {t['sft_format']}",
            p["format"] >= t["sft_format"])


def base_targets_met(numbers: dict) -> bool:
    """Whether a base meets every base target (greedy band, headroom, knowledge analogues): the
    admission rule of a world draw."""
    rows = [r for r in checks(numbers) if r["target"].startswith("base ")]
    return bool(rows) and all(r["met"] for r in rows)


def candidate_verdict(measured: list[dict], n_draws: int = 5, need: int = 3) -> dict:
    """The adoption rule of a candidate base calibration (c197ff3): on ``n_draws`` world draws, the median
    base greedy on dev in the band and at least ``need`` draws meeting every base target. ``measured``
    holds the calibration numbers of the draws built so far; each draw not yet built counts as meeting
    everything at the band's centre (the best case) or as missing the band on either side (the worst),
    and ``decided`` says whether the draws not yet built can still change the verdict."""
    lo, hi = TARGETS["base_greedy"]
    if not measured or len(measured) > n_draws:
        raise ValueError(f"need 1 to {n_draws} measured draws, got {len(measured)}")
    left = n_draws - len(measured)
    greedy = [n["base"]["greedy"] for n in measured]
    met = sum(base_targets_met(n) for n in measured)

    def verdict(fill_greedy: float, fill_met: int) -> bool:
        median = float(np.median(greedy + [fill_greedy] * left))
        return lo <= median <= hi and met + fill_met >= need

    best, worst = verdict((lo + hi) / 2, left), verdict(hi + 1.0, 0) and verdict(lo - 1.0, 0)
    return {"measured": len(measured), "n_draws": n_draws, "met": met, "need": need,
            "median_greedy": float(np.median(greedy)), "adopted": best and worst,
            "decided": best == worst}


def save(cfg: Config, numbers: dict, name: str = FILE):
    """Write ``numbers`` to figures/{preset}/``name`` (committed beside the figures)."""
    out = paths.figures_dir(cfg.preset) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    paths.atomic_write(out, json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    return out


def keep_probe(cfg: Config, numbers: dict) -> dict:
    """``numbers`` measured without the teacher probe, with the probe of the saved file added when that
    file was measured on the same world version and base (the probe costs about 25 minutes; a run
    of ``scalpel calibrate --no-probe`` must not lose it). The probe's own commit is kept beside it."""
    old = load(cfg.preset) or {}
    if "probe" in numbers or "probe" not in old or old.get("world_version") != WORLD_VERSION \
            or old.get("base_hash") != cfg.base_hash:
        return numbers
    return {**numbers, "probe": old["probe"], "probe_git_commit": old.get("probe_git_commit", old.get("git_commit"))}


def save_signal(cfg: Config, signal: dict) -> dict:
    """Merge ``signal`` (``{run: ...}``, :func:`grpo_signal`) into figures/{preset}/grpo_signal.json,
    keeping the other runs measured on the same world version, base and GRPO schedule (steps and
    problems per step); returns the whole file."""
    old = load(cfg.preset, SIGNAL_FILE) or {}
    schedule = {"train_steps": cfg.train_steps, "problems_per_step": cfg.problems_per_step}
    same = (old.get("world_version") == WORLD_VERSION and old.get("base_hash") == cfg.base_hash
            and old.get("schedule") == schedule)
    numbers = {"world_version": WORLD_VERSION, "base_hash": cfg.base_hash, "schedule": schedule,
               "runs": {**(old.get("runs", {}) if same else {}), **signal}}
    save(cfg, numbers, SIGNAL_FILE)
    return numbers


def load(preset: str, name: str = FILE) -> dict | None:
    path = paths.figures_dir(preset) / name
    return json.loads(path.read_text()) if path.is_file() else None


def summary(preset: str) -> dict | None:
    """What numbers.json records of the calibration (notebook 08): the setup's numbers (without the
    per-trace lengths), GRPO's signal per run and every target's check; None when neither was measured."""
    setup, signal = load(preset, FILE), load(preset, SIGNAL_FILE)
    if setup is None and signal is None:
        return None
    if setup is not None:
        setup = {**setup, "traces": {k: v for k, v in setup["traces"].items() if k != "lengths"}}
    runs = (signal or {}).get("runs", {})
    return {"setup": setup, "grpo_signal": runs, "targets": TARGETS, "checks": checks(setup, runs),
            "all_met": all(r["met"] for r in checks(setup, runs))}
