"""Amplify or replace (notebook 07): the pass@k estimator against exact enumeration, crossings, problems
gained and lost, the KL over sampled responses against a per-row oracle, the forgetting fits, the
frontier's runs (ids, learning rates, divergence recorded) and its verdict, and `scalpel passk`."""

import dataclasses
import itertools
import json
from math import comb

import numpy as np
import pandas as pd
import pytest
import torch

from scalpel_core import config
from scalpel_core.cli import main
from scalpel_core.eval import passk
from scalpel_core.report import amplify, forgetting
from scalpel_core.train import frontier, runs, trainer


# --- the estimator ----------------------------------------------------------------------------------

def _enumerated(n: int, c: int, k: int) -> float:
    """pass@k by brute force: the share of the k-subsets of n samples (c of them correct) that hold a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_pass_at_k_equals_exact_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert passk.pass_at_k(n, c, k) == pytest.approx(_enumerated(n, c, k), abs=1e-12), (n, c, k)
            assert passk.pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_k_is_stable_for_large_n_and_refuses_bad_input():
    # the binomials overflow floats here; the product does not
    assert passk.pass_at_k(2048, 1, 1) == pytest.approx(1 / 2048)
    assert passk.pass_at_k(2048, 3, 1024) == pytest.approx(1 - comb(2045, 1024) / comb(2048, 1024), rel=1e-9)
    for bad in ((4, 5, 1), (4, 1, 0), (4, 1, 5), (4, -1, 1)):
        with pytest.raises(ValueError, match="pass@k needs"):
            passk.pass_at_k(*bad)


def test_curve_is_the_mean_over_problems_at_powers_of_two():
    assert passk.ks_for(32) == [1, 2, 4, 8, 16, 32]
    assert passk.ks_for(12) == [1, 2, 4, 8, 12]
    assert passk.ks_for(1) == [1]
    correct = [0, 1, 4, 2]
    expected = [np.mean([_enumerated(4, c, k) for c in correct]) for k in (1, 2, 4)]
    assert passk.curve(correct, 4) == pytest.approx(expected)


def test_gained_and_lost_count_problems_only_one_side_ever_solves():
    base, model = [0, 0, 3, 1, 0], [2, 0, 0, 1, 1]
    gained, lost = passk.gained_lost(base, model)
    assert (gained, lost) == (pytest.approx(2 / 5), pytest.approx(1 / 5))
    with pytest.raises(ValueError, match="same problems"):
        passk.gained_lost([0, 1], [0, 1, 2])


def _sharpened(n_problems=60, n=16):
    """A base that solves every problem now and then, and a 'sharpened' model that always solves half
    of them and never the other half: ahead at k=1, behind at large k."""
    base = [2] * n_problems
    model = [n if i % 2 == 0 else 0 for i in range(n_problems)]
    return base, model


def test_crossing_k_is_where_the_advantage_changes_sign():
    n = 16
    base, model = _sharpened(n=n)
    ks = passk.ks_for(n)
    b, m = passk.per_problem(base, n, ks), passk.per_problem(model, n, ks)
    diff = m.mean(0) - b.mean(0)
    expected = ks[int(np.nonzero(diff <= 0)[0][0])]  # model ahead at k=1 (0.5 > 0.125), then caught up
    out = passk.crossing(b, [m], ks, n_boot=200)
    assert diff[0] > 0 and out["sign"] == 1 and out["k"] == expected
    assert out["lo"] <= expected <= out["hi"] and out["p_cross"] > 0.9
    # a model better on every problem never crosses (the base leaves half the problems unsolved, so
    # its curve stays below 1; equal curves would count as the advantage gone)
    weak = passk.per_problem([2] * 30 + [0] * 30, n, ks)
    better = passk.per_problem([6] * 30 + [1] * 30, n, ks)
    none = passk.crossing(weak, [better], ks, n_boot=200)
    assert none["k"] is None and none["hi"] is None and none["p_cross"] == 0
    # several seeds: the curve is their mean
    two = passk.crossing(b, [m, m], ks, n_boot=50)
    assert two["k"] == expected


def test_subset_is_fixed_seeded_and_ordered():
    items = list(range(50))
    a, b = passk.subset(items, 20, seed=0), passk.subset(items, 20, seed=0)
    assert a == b and a == sorted(a) and len(set(a)) == 20
    assert passk.subset(items, 20, seed=1) != a
    assert passk.subset(items, 0) == items and passk.subset(items, 80) == items


def test_counts_grade_every_sample_and_are_cached(tmp_path, monkeypatch, model_dir):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    items = [{"prompt": [{"role": "user", "content": f"What is {i}+1?"}], "answer": str(i + 1)} for i in range(3)]
    calls = []

    def fake_sample(model, tokenizer, prompts, n, *args, **kwargs):
        calls.append(n)  # problem i: the first i of its n answers are right
        return [[f"<answer>{i + 1}</answer>" if j < i else "<answer>0</answer>" for j in range(n)]
                for i in range(len(prompts))]

    monkeypatch.setattr("scalpel_core.eval.generation.sample", fake_sample)
    out = passk.counts_folder(model_dir, items, 4, 8, engine="transformers")
    assert out["correct"] == [0, 1, 2] and out["n"] == 4 and out["tokens"] > 0
    again = passk.counts_folder(model_dir, items, 4, 8, engine="transformers")
    assert again == out and calls == [4]  # the second call read the cache
    passk.counts_folder(model_dir, items, 5, 8, engine="transformers")  # another n: sampled again
    assert calls == [4, 5]


def test_sampling_is_reproducible_from_its_seed(tmp_path, monkeypatch, model_dir):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    items = [{"prompt": [{"role": "user", "content": f"What is {i}+1?"}], "answer": str(i + 1)} for i in range(2)]
    a = passk.sample_correct(model_dir, items, 3, 6, seed=0, engine="transformers")
    b = passk.sample_correct(model_dir, items, 3, 6, seed=0, engine="transformers")
    assert a == b and all(0 <= c <= 3 for c in a["correct"])


# --- the report tables ------------------------------------------------------------------------------

def _counts(n=16):
    base, model = _sharpened(n=n)
    flat = [1] * len(base)
    return {"base": {"n": n, "correct": base}, "grpo-s0": {"n": n, "correct": model},
            "grpo-s1": {"n": n, "correct": model}, "sft3ep-s0": {"n": n, "correct": flat}}


def test_amplify_tables_pool_seeds_and_keep_each():
    counts = _counts()
    curves = amplify.curve_table(counts, 16)
    assert set(curves.method) == {"base", "grpo", "sft3ep"} and len(curves) == 4 * len(passk.ks_for(16))
    cross = amplify.crossing_table(counts, 16, n_boot=50)
    pooled = cross[(cross.method == "grpo") & (cross.seed == "pooled")].iloc[0]
    assert pooled["advantage@1"] > 0 > pooled["advantage@16"] and pooled.k is not None
    assert set(cross[cross.method == "grpo"].seed) == {"pooled", "0", "1"}
    resampled = {"n": 16, "correct": [0 if i < 6 else 2 for i in range(60)]}  # the base again: 6 problems missed
    gl = amplify.gained_lost_table(counts, resampled).set_index(["method", "seed"])
    assert gl.loc[("grpo", "pooled"), "gained"] == 0 and gl.loc[("grpo", "pooled"), "lost"] == pytest.approx(0.5)
    assert gl.loc[("base", amplify.FLOOR), "lost"] == pytest.approx(0.1) and gl.loc[("base", amplify.FLOOR), "gained"] == 0
    assert ("base", "pooled") not in gl.index  # the floor is a reference, not a method
    summary = amplify.compare(counts, 16, n_boot=50).set_index("model")
    assert summary.loc["grpo-s0", "k"] == pooled.k and summary.loc["sft3ep-s0", "lost"] == 0


# --- forgetting and the sampled KL --------------------------------------------------------------------

def test_fit_recovers_a_quadratic_and_its_interval_holds_the_estimate():
    x = np.linspace(0.01, 1, 30)
    a, b, r2 = forgetting.fit(x, -2 * x + 0.5 * x ** 2)
    assert (a, b, r2) == (pytest.approx(-2), pytest.approx(0.5), pytest.approx(1))
    noisy = -x + np.random.default_rng(0).normal(0, 0.3, len(x))
    _, _, r2 = forgetting.fit(x, noisy)
    lo, hi = forgetting.fit_ci(x, noisy, n_boot=200)
    assert 0 < r2 < 1 and lo <= r2 <= hi


def test_relative_change_pools_every_matrix():
    rows = []
    for layer, (d, w) in enumerate([(3.0, 4.0), (0.0, 2.0)]):  # ||dW||, ||W0|| of two matrices
        rows += [{"run": "r", "step": 2, "layer": layer, "matrix": "q", "metric": "frobenius", "value": d},
                 {"run": "r", "step": 2, "layer": layer, "matrix": "q", "metric": "rel_frobenius", "value": d / w}]
    rows += [{"run": "other", "step": 2, "layer": 1, "matrix": "q", "metric": "frobenius", "value": 1.0},
             {"run": "other", "step": 2, "layer": 1, "matrix": "q", "metric": "rel_frobenius", "value": 0.5}]
    out = forgetting.relative_change(pd.DataFrame(rows)).set_index("run").rel_change
    # the unchanged (frozen) matrix keeps its ||W0|| = 2 in the denominator, read from the other run's row
    assert out["r"] == pytest.approx((9 / (16 + 4)) ** 0.5) and out["other"] == pytest.approx(0.5)


def test_pick_keeps_every_stride_th_checkpoint_and_the_last():
    entries = [{"step": s} for s in range(0, 21)]
    assert [e["step"] for e in forgetting.pick(entries, 4)] == [4, 8, 12, 16, 20]
    assert [e["step"] for e in forgetting.pick(entries, 1)] == list(range(1, 21))
    assert [e["step"] for e in forgetting.pick(entries[:8], 3)] == [1, 4, 7]


def _oracle_response_kl(base, model, head, tail):
    ids = torch.tensor([head + tail])
    with torch.no_grad():
        lb = torch.log_softmax(base(input_ids=ids).logits[0].double(), -1)
        lm = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    positions = range(len(head) - 1, len(head) + len(tail) - 1)
    return float(np.mean([(lb[t].exp() * (lb[t] - lm[t])).sum().item() for t in positions]))


def test_response_kl_counts_the_response_positions_only(tmp_path, monkeypatch, random_model, smoke_tokenizer):
    from scalpel_core.lenses import kl

    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    base_dir, ckpt_dir = tmp_path / "base", tmp_path / "ckpt"
    random_model.save_pretrained(base_dir)
    smoke_tokenizer.save_pretrained(base_dir)
    moved = type(random_model)(random_model.config)
    g = torch.Generator().manual_seed(1)
    moved.load_state_dict({k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in random_model.state_dict().items()})
    moved.eval().save_pretrained(ckpt_dir)
    prompts = [[{"role": "system", "content": "Answer."}, {"role": "user", "content": f"What is {i}+{i}?"}]
               for i in range(5)]
    responses = ["It is " + "2" * (i + 1) + "." for i in range(5)]
    table = kl.response_curve(base_dir, [("ckpt", ckpt_dir), ("self", base_dir)], prompts, responses,
                              smoke_tokenizer, batch_size=2, progress=False).set_index("checkpoint")
    heads = [smoke_tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    oracle = np.mean([_oracle_response_kl(random_model, moved, smoke_tokenizer(h, add_special_tokens=False)["input_ids"],
                                          smoke_tokenizer(r, add_special_tokens=False)["input_ids"])
                      for h, r in zip(heads, responses)])
    assert table.kl["ckpt"] == pytest.approx(oracle, rel=1e-4) and oracle > 0
    assert table.kl["self"] == 0
    # prompt positions are left out: the whole-sequence KL differs
    whole = kl.curve(base_dir, [("ckpt", ckpt_dir)], [p + [{"role": "assistant", "content": r}]
                                                      for p, r in zip(prompts, responses)],
                     smoke_tokenizer, 2, use_cache=False, progress=False, template=None).kl.iloc[0]
    assert abs(whole - oracle) > 1e-3 * oracle


# --- the frontier -------------------------------------------------------------------------------------

def test_learning_rate_factor_names_the_run_and_scales_the_rate():
    cfg = config.load("tiny")
    fast = dataclasses.replace(cfg, lr_factor=3.0)
    assert runs.run_id(fast) == "grpo-lr3x-s0" and runs.run_id(cfg) == "grpo-s0"
    assert trainer.learning_rate(fast) == pytest.approx(3 * trainer.learning_rate(cfg))
    sft3 = config.load("tiny", method="sft3ep", lr_factor=0.2)
    assert runs.run_id(sft3) == "sft3ep-lr0.2x-s0" and frontier.relative_rate(sft3) == pytest.approx(10)
    for run, factor, spec, name in (("grpo-lr3x-s1", 3.0, "all", "grpo-lr3x"), ("sft1ep-s0", 1.0, "all", "sft1ep"),
                                    ("sft3ep-qk-lr10x-s0", 10.0, "qk", "sft3ep-qk-lr10x"),
                                    ("sft3ep-frozen-mid-mlp-s0", 1.0, "frozen-mid-mlp", "sft3ep-frozen-mid-mlp")):
        assert (runs.lr_factor_of(run), runs.spec_of(run), runs.model_name(run)) == (factor, spec, name)
    # the paper's runs keep the identity they had before the factor existed
    assert "lr_factor" not in runs.run_config(cfg) and runs.run_config(fast)["lr_factor"] == 3.0
    with pytest.raises(config.ConfigError, match="'lr_factor' must be > 0"):
        config.load("tiny", lr_factor=0.0)


def test_a_diverged_frontier_run_is_recorded_and_not_trained_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    calls = []

    def diverge(cfg, **kwargs):
        calls.append(runs.run_id(cfg))
        runs.run_dir(cfg).mkdir(parents=True, exist_ok=True)
        raise trainer.TrainingDivergedError("loss became nan at step 3 of 8")

    monkeypatch.setattr(trainer, "train", diverge)
    cfg = config.load("smoke")
    first = frontier.train_point(cfg, "grpo", 10.0, progress=False)
    assert first["status"] == "diverged" and "nan at step 3" in first["message"] and first["run"] == "grpo-lr10x-s0"
    again = frontier.train_point(cfg, "grpo", 10.0, progress=False)
    assert again == first and calls == ["grpo-lr10x-s0"]
    record = json.loads((tmp_path / "smoke" / "grpo-lr10x-s0" / frontier.DIVERGED).read_text())
    assert record["config_hash"] == runs.config_hash(runs.run_config(dataclasses.replace(cfg, lr_factor=10.0)))


def _settings(grpo_changes):
    rows = [{"family": "SFT", "method": "sft1ep", "lr_factor": f, "relative_rate": f, "gain": g, "ood_accuracy": o,
             "ood_retention": o} for f, g, o in ((1, 0.0, 0.0), (5, 0.1, -0.1), (50, 0.3, -0.5))]
    rows += [{"family": "GRPO", "method": "grpo", "lr_factor": f, "relative_rate": f, "gain": g, "ood_accuracy": o,
              "ood_retention": o} for f, (g, o) in zip((1, 3), grpo_changes)]
    return pd.DataFrame(rows)


def test_frontier_verdict_compares_at_equal_gain():
    # SFT at gain 0.2 interpolates to -0.3
    assert forgetting.frontier_verdict(_settings([(0.2, -0.1), (0.05, 0.0)]), "ood_accuracy")["verdict"] == "yes"
    assert forgetting.frontier_verdict(_settings([(0.2, -0.4), (0.05, -0.2)]), "ood_accuracy")["verdict"] == "no"
    assert forgetting.frontier_verdict(_settings([(0.2, -0.1), (0.05, -0.2)]), "ood_accuracy")["verdict"] == "undecided"
    out = forgetting.frontier_verdict(_settings([(0.5, 0.0), (-0.1, 0.0)]), "ood_accuracy")
    assert out["verdict"] == "not testable here" and out["comparisons"] == [] and out["premise_holds"] is False


def test_frontier_table_reads_gain_and_forgetting_from_the_vectors():
    def vec(math, mmlu):
        return {"math500": ([1.0] * math + [0.0] * (10 - math), [1.0] * 10),
                "mmlu": ([1.0] * mmlu + [0.0] * (10 - mmlu), [1.0] * 10), "heldout_ll": ([-2.0], [1.0])}
    diverged = [{"run": "grpo-lr10x-s0", "method": "grpo", "lr_factor": 10.0, "relative_rate": 10.0}]
    table = forgetting.frontier_table({"base": vec(5, 5), "grpo-s0": vec(6, 5), "sft1ep-lr5x-s0": vec(8, 2)},
                                      {"grpo-s0": 1.0, "sft1ep-lr5x-s0": 5.0}, diverged).set_index("run")
    assert table.gain["grpo-s0"] == pytest.approx(0.1) and table.ood_accuracy["sft1ep-lr5x-s0"] == pytest.approx(-0.3)
    assert table.lr_factor["sft1ep-lr5x-s0"] == 5.0 and table.family["sft1ep-lr5x-s0"] == "SFT"
    assert table.status["grpo-lr10x-s0"] == "diverged" and pd.isna(table.gain["grpo-lr10x-s0"])
    points = forgetting.frontier_points(pd.concat([table.reset_index(), table.reset_index().assign(seed=1)]))
    assert list(points.seeds) == [2, 2]  # the diverged run is no point of the frontier


# --- the command line -----------------------------------------------------------------------------------

def test_scalpel_passk_writes_curves_and_a_summary(tmp_path, monkeypatch, model_dir, math500_file, capsys):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    other = tmp_path / "other"
    import shutil

    shutil.copytree(model_dir, other)
    out = tmp_path / "p.csv"
    assert main(["passk", str(model_dir), str(other), "--data", str(math500_file), "--n", "4", "--problems", "5",
                 "--max-new-tokens", "6", "--out", str(out)]) == 0
    curves, summary = pd.read_csv(out), pd.read_csv(tmp_path / "p_summary.csv")
    assert set(curves.model) == {str(model_dir), str(other)} and sorted(set(curves.k)) == [1, 2, 4]
    assert list(summary.model) == [str(other)] and summary.problems[0] == 5
    # the same weights, the same seed: the same samples, so nothing gained or lost and no crossing
    assert summary.gained[0] == 0 and summary.lost[0] == 0 and pd.isna(summary.k[0])
    assert "p_summary.csv" in capsys.readouterr().out
