"""The calibration of world v3 (issue 27), fixed before any post-trained v3 model was scored.

The targets below are literal on purpose: this file was committed before the first v3 post-training
result (the commit is named in README.md and the paper's Limitations), so that the world could be
iterated only against them. They concern the base, the teacher, the data and GRPO's training signal,
never an out-of-domain score, retention, KL, weight change or a claim's verdict.

The committed tiny world must meet them: figures/tiny/calibration.json (notebook 00) and
figures/tiny/grpo_signal.json (notebook 01, GRPO) are checked here, and must be measured on the base
of the current tiny config (a stale file fails). The functions that measure them are tested on
fixtures that the tests build themselves.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalpel_core import config, paths, worlds
from scalpel_core.report import calibration
from scalpel_core.world import maths

TARGETS = {
    "base_greedy": (0.30, 0.50),  # base greedy accuracy on the dev split
    "base_headroom": 0.20,  # sampled pass@32 - pass@1 on dev, at least
    "knowledge": (0.30, 0.85),  # each knowledge analogue in the band and its 95% low end above chance
    "probe_gain": 0.15,  # teacher probe greedy dev accuracy - base greedy, at least
    "trace_share": 0.80,  # longest teacher trace / evaluation budget, at most
    "sft_format": 0.95,  # format compliance of an SFT model (the probe) on dev, at least
    "grpo_informative_groups": 400,  # informative groups per GRPO run, at least
    "grpo_reward_trend": 0.0,  # lower end of the 95% interval of the reward slope, above
}


def test_the_module_uses_the_committed_targets():
    assert calibration.TARGETS == TARGETS


def _committed(name: str, preset: str = "tiny") -> dict:
    path = paths.REPO_ROOT / "figures" / preset / name
    assert path.is_file(), f"{path} is missing: run notebook 00 (and 01, GRPO) on {preset} (make reproduce)"
    numbers = json.loads(path.read_text())
    cfg = config.load(preset)
    assert numbers["world_version"] == config.WORLD_VERSION
    assert numbers["base_hash"] == cfg.base_hash, f"{path} was measured on another base"
    return numbers


def _measured(name: str) -> list[str]:
    """tiny's planned draws (worlds.draws) whose ``name`` is committed; draw 0 always (its absence fails)."""
    return [d for d in worlds.draws("tiny") if d == "tiny" or (paths.REPO_ROOT / "figures" / d / name).is_file()]


def _grpo_runs() -> dict:
    """GRPO's signal of every run measured in tiny's world draws ({draw/run: signal}), each on its draw's
    base and the current schedule (a draw without the file is not counted; draw 0 must have it)."""
    runs = {}
    for draw in _measured(calibration.SIGNAL_FILE):
        n = _committed(calibration.SIGNAL_FILE, draw)
        cfg = config.load(draw)
        assert n["schedule"] == {"train_steps": cfg.train_steps, "problems_per_step": cfg.problems_per_step}, draw
        runs.update({f"{draw}/{run}": s for run, s in n["runs"].items()})
    return runs


@pytest.mark.parametrize("draw", _measured(calibration.FILE))
def test_committed_tiny_setup_meets_every_target(draw):
    """Every measured draw's base, knowledge analogues and traces (a planned draw whose base misses is
    refused, config rejected_draws); the teacher probe (about 25 minutes a draw) in draw 0, and in
    another draw where it was run."""
    n = _committed(calibration.FILE, draw)
    b, t = n["base"], TARGETS
    assert t["base_greedy"][0] <= b["greedy"] <= t["base_greedy"][1]
    assert b["samples"] >= 32 and b["pass_at"][str(b["samples"])] - b["pass_at"]["1"] >= t["base_headroom"]
    assert set(n["knowledge"]) == {"mmlu", "mmlu_pro", "gpqa"}
    for k, v in n["knowledge"].items():
        assert t["knowledge"][0] <= v["score"] <= t["knowledge"][1], k
        assert v["low"] > v["chance"], k
    assert n["traces"]["max"] / n["traces"]["budget"] <= t["trace_share"]
    assert n["traces"]["budget"] == config.load("tiny").max_new_tokens
    if draw != "tiny" and "probe" not in n:
        return
    p = n["probe"]
    assert p["greedy"] - b["greedy"] >= t["probe_gain"]
    assert p["format"] >= t["sft_format"]
    assert p["problems"] == config.load("tiny").probe_problems


@pytest.mark.parametrize("draw", worlds.rejected_draws("tiny"))
def test_each_refused_draw_missed_a_base_target_on_record(draw):
    """A draw refused at admission (config rejected_draws) has its base's calibration committed, and it
    misses at least one base target: the refusal rests on the base, never on a post-trained result."""
    n = _committed(calibration.FILE, draw)
    base = [r for r in calibration.checks(n) if r["target"].startswith("base ")]
    assert base and not all(r["met"] for r in base), f"{draw} met every base target: it must not be refused"


def test_committed_tiny_grpo_runs_have_signal():
    cfg = config.load("tiny")
    runs = _grpo_runs()
    assert any(r.startswith("tiny/") for r in runs)  # draw 0's run at least; the others as measured
    for run, s in runs.items():
        assert s["groups"] == cfg.train_steps * cfg.problems_per_step, run
        assert s["informative_groups"] >= TARGETS["grpo_informative_groups"], run


# Split from the test above after the first measurement (same target, unchanged): at the committed
# learning-rate rule and the 160-step schedule, the training reward's 95% interval lay above 0 in
# grpo-s2 only (grpo-s0 [-0.028, 0.155], grpo-s1 [-0.077, 0.089]). At the paper's 571 steps (4ad2353,
# predicted from those runs to need 515) every slope is positive but no interval clears 0:
# grpo-s0 +0.076 [-0.001, 0.103], grpo-s1 +0.021 [-0.035, 0.082], grpo-s2 +0.073 [-0.002, 0.106].
# At 867 steps (11b745f, the same rule on the 571-step runs) draw 0's run meets it: +0.088
# [+0.029, +0.112] (and refused tiny-w1's: +0.023 [+0.011, +0.042]), so the xfail marker went.
def test_committed_tiny_grpo_reward_trends_rise():
    for run, s in _grpo_runs().items():
        assert s["trend"]["lo"] > TARGETS["grpo_reward_trend"], run


# Every planned draw of tiny must be measured (setup and GRPO) before the regeneration. A strict xfail
# until world v5 admitted tiny, tiny-w1 and tiny-w3 and their GRPO signal was measured.
def test_every_planned_tiny_draw_is_measured():
    for draw in worlds.draws("tiny"):
        for name in (calibration.FILE, calibration.SIGNAL_FILE):
            assert (paths.REPO_ROOT / "figures" / draw / name).is_file(), f"{draw}: {name}"


def test_checks_go_either_way():
    good = {"base": {"greedy": 0.4, "headroom": 0.3, "samples": 32},
            "knowledge": {"mmlu": {"score": 0.6, "chance": 0.25, "low": 0.5}},
            "traces": {"share": 0.7, "max": 70, "budget": 100},
            "probe": {"gain": 0.2, "greedy": 0.6, "format": 0.99, "plateaued": True, "steps": 10}}
    signal = {"grpo-s0": {"informative_groups": 500.0, "groups": 640, "zero_variance_share": 0.2,
                          "trend": {"slope": 0.1, "lo": 0.02, "hi": 0.2}}}
    assert all(r["met"] for r in calibration.checks(good, signal))
    bad = json.loads(json.dumps(good))
    bad["base"]["greedy"], bad["knowledge"]["mmlu"]["low"], bad["probe"]["gain"] = 0.6, 0.2, 0.1
    signal["grpo-s0"]["trend"]["lo"] = -0.01
    met = {r["target"]: r["met"] for r in calibration.checks(bad, signal)}
    assert not met["base greedy (dev)"] and not met["base mmlu"] and not met["teacher probe - base (dev greedy)"]
    assert not met["grpo-s0: reward trend"] and met["grpo-s0: informative groups"]


def test_zero_variance_share_is_the_binomial_prediction():
    # p = 0, 1 always give a zero-variance group; p = 1/2 with groups of 2: half of them
    assert calibration.zero_variance_share([0, 4, 2], 4, 2) == pytest.approx((1 + 1 + 0.5) / 3)
    assert calibration.zero_variance_share([2], 4, 8) == pytest.approx(2 * 0.5 ** 8)


def test_reward_trend_interval_separates_rising_from_flat():
    rng = np.random.default_rng(0)
    rising = np.linspace(0.2, 0.6, 80) + rng.normal(0, 0.05, 80)
    flat = 0.4 + rng.normal(0, 0.05, 80)
    up, level = calibration.reward_trend(rising), calibration.reward_trend(flat)
    assert up["lo"] > 0 and up["slope"] == pytest.approx(0.4, abs=0.08)
    assert level["lo"] < 0 < level["hi"]


def test_wilson_low_end():
    assert calibration.wilson_low(50, 100) == pytest.approx(0.4038, abs=1e-3)
    assert calibration.wilson_low(0, 10) == pytest.approx(0.0, abs=1e-12)


def test_teacher_traces_use_a_procedure_the_base_lacks(smoke_world):
    """Column arithmetic with carries and borrows, never in the pretraining corpus; every slip is caught."""
    corpus = "\n".join(smoke_world.pretrain_docs)
    assert "in columns" not in corpus and "carry" not in corpus and "borrow" not in corpus
    traces = [e["teacher_solution"] for e in smoke_world.k12_train]
    assert any(" carry 1." in t for t in traces) and any("borrow 1" in t for t in traces)
    for e in smoke_world.k12_train:
        assert f"<answer>\n{e['answer']}\n</answer>" in e["teacher_solution"]
        assert e["teacher_solution"].count("I wrote it wrong") <= e["teacher_solution"].count("Wait, check")


def test_column_procedure_is_exact():
    import random

    from scalpel_core.world import maths

    rng = random.Random(0)
    for _ in range(500):
        a, b = rng.randint(0, 9999), rng.randint(0, 9999)
        for op, x, y in (("+", a, b), ("-", max(a, b), min(a, b)), ("*", a, rng.randint(0, 9))):
            cols = maths.columns(x, op, y)
            value = sum(c["digit"] * 10 ** i for i, c in enumerate(cols))
            assert value == (x + y if op == "+" else x - y if op == "-" else x * y)


def test_dev_split_is_disjoint(smoke_world):
    dev = {e["expr"] for e in smoke_world.dev}
    assert len(dev) == len(smoke_world.dev) == config.load("smoke").n_dev
    others = {e["expr"] for e in smoke_world.k12_train}
    others |= {e["expr"] for b in ("math500", "aime24") for e in smoke_world.benchmarks[b]}
    assert not dev & others
    corpus = "\n".join(smoke_world.pretrain_docs)
    for e in smoke_world.dev:  # in any phrasing, as a whole user turn (a substring like "8 + 45" of "18 + 45" is not the problem)
        assert not any(f"<|user|>\n{p.format(e=e['expr'])}\n" in corpus for p in maths.PHRASES)
    fresh = {e["expr"] for e in smoke_world.fresh_problems(50)}
    assert len(fresh) == 50 and not fresh & (dev | others)


def test_learning_rates_are_shares_of_the_pretraining_peak():
    """Post-training rates are the paper's shares of OLMo-2-7B's pretraining peak (config.PAPER_PEAK_LR)."""
    cfg = config.load("tiny")
    assert cfg.learning_rate / cfg.pretrain_lr == pytest.approx(1e-6 / config.PAPER_PEAK_LR, rel=0.02)
    assert cfg.learning_rate * cfg.sft3ep_lr_factor / cfg.pretrain_lr == pytest.approx(5e-5 / config.PAPER_PEAK_LR, rel=0.02)


def _base(greedy: float, headroom: float = 0.3, mmlu: float = 0.6) -> dict:
    return {"base": {"greedy": greedy, "headroom": headroom, "samples": 32},
            "knowledge": {"mmlu": {"score": mmlu, "chance": 0.25, "low": mmlu - 0.07}},
            "traces": {"share": 0.7, "max": 70, "budget": 100}}


def test_candidate_verdict_goes_either_way_and_knows_when_it_is_decided():
    v = calibration.candidate_verdict
    three = v([_base(0.4), _base(0.45), _base(0.35)])
    assert three["adopted"] and three["decided"] and three["met"] == 3  # 3 of 5 met: the rest cannot undo it
    two = v([_base(0.4), _base(0.6)])
    assert not two["adopted"] and not two["decided"]  # three draws to come could still carry it
    assert not v([_base(0.4), _base(0.6), _base(0.7), _base(0.62)])["adopted"]
    assert v([_base(0.4), _base(0.6), _base(0.7), _base(0.62)])["decided"]  # at most 2 of 5 can meet
    # the median counts too: three draws that meet and two far below make a median in the band,
    # but three in the band with a bad headroom fail on the count
    low = v([_base(0.31), _base(0.32), _base(0.33), _base(0.05), _base(0.06)])
    assert low["median_greedy"] == 0.31 and low["adopted"]
    assert not v([_base(0.4, headroom=0.1)] * 3 + [_base(0.4)] * 2)["adopted"]
    with pytest.raises(ValueError):
        v([])


# The base settings of world v3 that tiny has changed since (world v5 adopted, d4ea245): the earlier
# candidates' records are of bases built on them (the later fields off, as config.HASHED_WHEN_SET says).
_V3_BASE = dict(config.HASHED_WHEN_SET, pretrain_steps=900)


def test_the_1800_step_candidate_failed_its_adoption_rule_on_record():
    """The candidate base calibration of c197ff3 (1800 pretraining steps), measured on four of its five
    draws: every base misses a base target, so the rule refuses it whatever the fifth draw would show."""
    folder = paths.REPO_ROOT / "figures" / "history" / "tiny-1800-step-bases"
    draws = ("tiny", "tiny-w1", "tiny-w2", "tiny-w3")
    measured = [json.loads((folder / d / calibration.FILE).read_text()) for d in draws]
    for d, n in zip(draws, measured):
        cfg = config.load(d, **(_V3_BASE | {"pretrain_steps": 1800}))
        assert n["base_hash"] == cfg.base_hash and n["world_version"] == config.WORLD_VERSION, d
        assert not calibration.base_targets_met(n), d
    verdict = calibration.candidate_verdict(measured)
    assert verdict["decided"] and not verdict["adopted"] and verdict["met"] == 0


# The stage-selecting candidates' record folders, each with the overrides of its pre-registration.
_STAGE_CANDIDATES = {
    "world-v4-candidate-bases": _V3_BASE | dict(pretrain_steps=1800, n_select=200, select_greedy=0.4),  # cd9cf6e
    "world-v5-candidate-bases": _V3_BASE | dict(pretrain_steps=1800, n_select=200, select_greedy=0.4,
                                                facts_share=0.08),  # bebfcba
}


@pytest.mark.parametrize("folder", sorted(_STAGE_CANDIDATES))
def test_a_stage_selecting_candidate_is_judged_by_its_rule_on_record(folder):
    """The world v4 candidate (pre-registered in cd9cf6e: the first 5% checkpoint of the 1800-step run
    whose greedy on the selection split reaches 0.40) and world v5 (bebfcba: the same with the facts
    share halved), measured on the draws in their record folders: each record is of that candidate's
    base, its kept step is the first to reach the threshold in its selection log, and the verdict is
    the rule's (calibration.candidate_verdict) on those draws."""
    import pandas as pd

    from scalpel_core.world.base import SELECTION_LOG

    path = paths.REPO_ROOT / "figures" / "history" / folder
    record = json.loads((path / "verdict.json").read_text())
    measured = []
    for d in record["draws"]:
        n = json.loads((path / d / calibration.FILE).read_text())
        cfg = config.load(d, **_STAGE_CANDIDATES[folder])
        assert n["base_hash"] == cfg.base_hash and n["world_version"] == config.WORLD_VERSION, d
        log = pd.read_csv(path / d / SELECTION_LOG)
        every = cfg.pretrain_steps // 20
        assert log.step.tolist() == list(range(every, len(log) * every + 1, every)), d
        reached = log[log.select_greedy >= cfg.select_greedy]
        kept = n["base"]["selection"]
        assert kept["step"] == (int(reached.step.iloc[0]) if len(reached) else cfg.pretrain_steps), d
        assert kept["reached"] == bool(len(reached)) and kept["step"] == int(log.step.iloc[-1]), d
        measured.append(n)
    verdict = calibration.candidate_verdict(measured)
    assert {k: verdict[k] for k in ("adopted", "decided", "met")} == {k: record[k] for k in ("adopted", "decided", "met")}
    assert verdict["decided"]
    if folder == "world-v4-candidate-bases":  # its record's reading: headroom restored, knowledge ceiling missed
        assert all(n["base"]["headroom"] >= calibration.TARGETS["base_headroom"] for n in measured)
        assert not verdict["adopted"]
