"""The calibration's files and figure: merging GRPO runs, what numbers.json records, the four panels."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

import pytest

from scalpel_core import config, paths
from scalpel_core.report import calibplot, calibration


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "figures_dir", lambda preset: tmp_path / preset)
    return tmp_path


def _run(informative: float, lo: float) -> dict:
    return {"zero_variance_share": 0.3, "informative_groups": informative, "groups": 640,
            "reward_first": 0.3, "reward_last": 0.5, "trend": {"slope": 0.2, "lo": lo, "hi": 0.3, "steps": 80}}


def _setup(greedy: float) -> dict:
    return {"world_version": config.WORLD_VERSION, "base_hash": "x",
            "base": {"greedy": greedy, "samples": 32, "headroom": 0.25, "pass_at": {"1": 0.35, "32": 0.6}},
            "knowledge": {"mmlu": {"score": 0.6, "chance": 0.25, "low": 0.53, "n": 200}},
            "traces": {"max": 260, "p99": 230.0, "mean": 125.0, "base_mean": 39.0, "budget": 352,
                       "share": 260 / 352, "lengths": [100, 200, 260]},
            "probe": {"greedy": 0.7, "format": 0.99, "gain": 0.7 - greedy, "steps": 400, "best_step": 350,
                      "best_eval_loss": 0.1, "plateaued": True, "problems": 6000,
                      "curve": [{"step": 50, "eval_loss": 0.5}, {"step": 100, "eval_loss": 0.2}]}}


def test_signal_runs_merge_on_the_same_base_and_reset_on_another(figures):
    cfg = config.load("smoke")
    calibration.save_signal(cfg, {"grpo-s0": _run(500, 0.01)})
    both = calibration.save_signal(cfg, {"grpo-s1": _run(300, -0.02)})
    assert set(both["runs"]) == {"grpo-s0", "grpo-s1"} and both["base_hash"] == cfg.base_hash
    other = config.load("smoke", seed=1)  # another world, another base: the old runs are not its runs
    assert other.base_hash != cfg.base_hash
    assert set(calibration.save_signal(other, {"grpo-s2": _run(500, 0.01)})["runs"]) == {"grpo-s2"}
    longer = config.load("smoke", seed=1, train_steps=other.train_steps + 1)  # same base, another schedule
    assert longer.base_hash == other.base_hash
    assert set(calibration.save_signal(longer, {"grpo-s0": _run(500, 0.01)})["runs"]) == {"grpo-s0"}


def test_summary_records_numbers_and_checks_without_the_lengths(figures):
    cfg = config.load("smoke")
    assert calibration.summary(cfg.preset) is None
    calibration.save(cfg, _setup(0.4))
    calibration.save_signal(cfg, {"grpo-s0": _run(500, 0.01), "grpo-s1": _run(300, 0.01)})
    s = calibration.summary(cfg.preset)
    assert "lengths" not in s["setup"]["traces"] and s["setup"]["traces"]["max"] == 260
    met = {r["target"]: r["met"] for r in s["checks"]}
    assert met["base greedy (dev)"] and met["grpo-s0: informative groups"]
    assert not met["grpo-s1: informative groups"] and not s["all_met"]
    calibration.save(cfg, _setup(0.6))  # out of the band: the summary says so
    assert not {r["target"]: r["met"] for r in calibration.summary(cfg.preset)["checks"]}["base greedy (dev)"]


def test_checks_of_the_signal_alone():
    rows = calibration.checks(None, {"grpo-s0": _run(500, -0.01)})
    assert [r["met"] for r in rows] == [True, False]


def test_figure_has_four_panels_with_and_without_probe():
    fig = calibplot.figure(_setup(0.4))
    assert len(fig.axes) == 4 and "plateaued" in fig.axes[3].get_title()
    n = _setup(0.4)
    del n["probe"]
    assert "not run" in calibplot.figure(n).axes[3].get_title()


def test_cli_calibrate_writes_the_numbers_and_prints_every_target(artifacts, figures, capsys):
    from scalpel_core import cli

    code = cli.main(["calibrate", "--preset", "smoke", "--no-probe"])
    out = capsys.readouterr().out
    assert code in (0, 1)  # 1: some target missed (smoke is not calibrated), each line says which
    saved = calibration.load("smoke")
    assert saved["base_hash"] == config.load("smoke").base_hash and "probe" not in saved
    assert (figures / "smoke" / "calibration.png").is_file()
    lines = [ln for ln in out.splitlines() if ln.startswith(("met ", "MISS"))]
    assert len(lines) == len(calibration.checks(saved)) and any("base greedy (dev)" in ln for ln in lines)
    assert code == (1 if any(ln.startswith("MISS") for ln in lines) else 0)


def test_cli_calibrate_records_the_base_selection_of_a_candidate(artifacts, figures, capsys):
    """A world v4 candidate measured with --set: its own base, stopped by the selection rule (never
    reached on smoke's 20 steps, so the last), and the step kept in the saved numbers."""
    from scalpel_core import cli

    sets = ["--set", "pretrain_steps=20", "--set", "n_select=20", "--set", "select_greedy=0.5"]
    assert cli.main(["calibrate", "--preset", "smoke", "--no-probe", *sets]) in (0, 1)
    saved = calibration.load("smoke")
    cfg = config.load("smoke", pretrain_steps=20, n_select=20, select_greedy=0.5)
    assert saved["base_hash"] == cfg.base_hash != config.load("smoke").base_hash
    chosen = saved["base"]["selection"]
    assert chosen["threshold"] == 0.5 and chosen["step"] == 20 and chosen["reached"] == (chosen["greedy"] >= 0.5)


def test_a_run_without_the_probe_keeps_the_saved_probe_of_the_same_base(figures):
    cfg = config.load("smoke")
    calibration.save(cfg, {**_setup(0.4), "world_version": config.WORLD_VERSION, "base_hash": cfg.base_hash,
                           "git_commit": "abc"})
    fresh = {k: v for k, v in _setup(0.41).items() if k != "probe"}
    kept = calibration.keep_probe(cfg, fresh)
    assert kept["probe"] == _setup(0.4)["probe"] and kept["probe_git_commit"] == "abc" and "probe" not in fresh
    assert calibration.keep_probe(config.load("smoke", seed=1), fresh) is fresh  # another base: not its probe
    measured = {**fresh, "probe": {"greedy": 0.9}}
    assert calibration.keep_probe(cfg, measured) is measured  # a probe just measured wins


def test_cli_calibrate_refuses_the_real_world_in_one_line(capsys):
    from scalpel_core import cli

    assert cli.main(["calibrate", "--preset", "gpu-small"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "miniature" in err and "gpu-small" in err


def test_zero_variance_groups_see_equal_inexact_rewards_that_trl_misses():
    """Rewards 0.2 and 1.2 (format weight 0.2) in a group of 8: TRL 1.16's std-isclose-0 test calls
    such a group informative; the advantages' tolerance does not, scaled or not."""
    import torch
    from trl.trainer.utils import nanstd

    from scalpel_core.train.rollouts import zero_variance_groups

    rewards = torch.tensor([0.2] * 8 + [1.2] * 8 + [0.2, 1.2] * 4 + [1.2] * 7 + [1.0])
    grouped = rewards.view(-1, 8)
    mean = grouped.mean(dim=1, keepdim=True)
    std = nanstd(grouped, dim=1, keepdim=True)
    trl_zero = torch.isclose(std, torch.zeros_like(std)).float().flatten()
    assert trl_zero.tolist() == [0.0, 0.0, 0.0, 0.0]  # TRL: no zero-variance group at all
    unscaled = (grouped - mean).flatten()
    scaled = ((grouped - mean) / (std + 1e-4)).flatten()
    assert zero_variance_groups(unscaled, 8).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert zero_variance_groups(scaled, 8).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert zero_variance_groups(unscaled, 3) is None and zero_variance_groups(unscaled[:0], 8) is None


def test_grpo_signal_refuses_a_log_without_the_exact_column(tmp_path):
    import json as _json

    from scalpel_core.checkpoints import CheckpointError

    (tmp_path / "train_log.json").write_text(_json.dumps([{"loss": 0.1, "reward": 0.5, "frac_reward_zero_std": 0.0,
                                                           "step": 1}]))
    with pytest.raises(CheckpointError, match="groups/zero_reward_variance"):
        calibration.grpo_signal(config.load("smoke"), {"grpo-s0": tmp_path})
    log = [{"loss": 0.1, "reward": 0.3 + 0.01 * i, "frac_reward_zero_std": 0.0,
            "groups/zero_reward_variance": 0.25, "step": i + 1} for i in range(20)]
    (tmp_path / "train_log.json").write_text(_json.dumps(log))
    s = calibration.grpo_signal(config.load("smoke"), {"grpo-s0": tmp_path})["grpo-s0"]
    ppstep = config.load("smoke").problems_per_step
    assert s["informative_groups"] == pytest.approx(20 * ppstep * 0.75) and s["groups"] == 20 * ppstep
    assert s["trend"]["lo"] > 0 and s["trl_frac_reward_zero_std"] == 0.0


def test_steps_for_trend_predicts_a_length_at_which_the_trend_is_met():
    """From short runs whose reward interval straddles 0, the prediction gives a length at which
    simulated runs of the same per-step rise and noise clear the target; no rise: no length."""
    rng = np.random.default_rng(3)

    def run(steps, rise_per_step=0.03 / 160, noise=0.08):
        y = 0.5 + rise_per_step * np.arange(steps) + rng.normal(0, noise, steps)
        return {"trend": calibration.reward_trend(y, n_boot=400, seed=int(rng.integers(1 << 30)))}

    short = {f"r{i}": run(160) for i in range(3)}
    assert any(r["trend"]["lo"] <= 0 for r in short.values())
    need = calibration.steps_for_trend(short)
    assert need["measured_steps"] == 160 and need["steps_needed"] > 160
    longer = [run(need["steps_needed"])["trend"]["lo"] > 0 for _ in range(12)]
    assert sum(longer) >= 9  # the rule aims at 0.965 per run
    flat = {"a": {"trend": {"slope": -0.01, "lo": -0.1, "hi": 0.08, "steps": 160}}}
    assert calibration.steps_for_trend(flat)["steps_needed"] == float("inf")
    with pytest.raises(ValueError, match="different lengths"):
        calibration.steps_for_trend({**flat, "b": {"trend": {"slope": 0.1, "lo": 0, "hi": 0.2, "steps": 80}}})
