"""Claims as rules over the result tables (notebook 08) and the freeze ablation's summary (notebook 02)."""

import json

import numpy as np
import pandas as pd
import pytest

from scalpel_core.arch import MATRICES
from scalpel_core.eval import rewards
from scalpel_core.report import claims, freeze_summary, inside, published
from scalpel_core.train import runs


def held(checks: dict) -> list:
    """A claim's checks as held (True) or not."""
    return [v == claims.HOLDS for v in checks.values()]


def test_verdict_levels():
    assert claims.verdict({"a": True, "b": True}) == "reproduced"
    assert claims.verdict({"a": True, "b": False}) == "partly reproduced"
    assert claims.verdict({"a": False, "b": False}) == "not reproduced"
    assert claims.verdict({"a": "holds", "b": "not testable here"}) == "reproduced"  # untestable checks do not count
    assert claims.verdict({"a": "not testable here"}) == "not testable here"
    assert claims.verdict({"a": "fails", "b": "underpowered"}) == "underpowered"
    assert claims.combine("holds", ["holds", "holds", "fails"]) == "holds"
    assert claims.combine("holds", ["holds", "fails", "fails"]) == "fails"  # seed-fragile
    assert claims.combine("underpowered", ["holds"] * 3) == "underpowered"
    with pytest.raises(ValueError, match="unknown check state"):
        claims.state("maybe")


def test_the_rules_hold_on_the_papers_own_numbers():
    """Each benchmark rule must say what the paper says: applied to its numbers, every check holds."""
    bench = claims.benchmark_checks(claims.paper_deltas())
    assert all(held(bench["c1"])) and all(held(bench["c2"]))
    assert bench["grpo"]["math500_delta"] == pytest.approx(0.05)
    assert bench["grpo"]["general_mean_delta"] == pytest.approx(np.mean([-0.03, -0.01, 0.01, -0.21, -0.17]))
    freeze = claims.freeze_checks(claims.paper_freeze_effects())
    assert all(held(freeze["c6"]))
    assert freeze["per_model"]["sft3ep-qk+lm_head"]["hurt"] == ["ifeval_inst", "ifeval_prompt", "math500", "mmlu", "mmlu_pro"]


def _deltas(grpo_math=(0.05, 0.01, 0.09), grpo_general=-0.02, sft_math=(0.1, 0.05, 0.15), sft_general=-0.2):
    rows = []
    for model, math, general in (("grpo", grpo_math, grpo_general), ("sft1ep", sft_math, sft_general),
                                 ("sft3ep", sft_math, sft_general)):
        rows.append({"model": model, "key": "math500", "delta": math[0], "lo": math[1], "hi": math[2]})
        for key in ("aime24", "gsm8k"):
            rows.append({"model": model, "key": key, "delta": 0.0, "lo": -0.01, "hi": 0.01})
        for key in claims.GENERAL:  # one significant drop per model when general < 0
            hi = general / 2 if key == "mmlu" else 0.01
            rows.append({"model": model, "key": key, "delta": general, "lo": general - 0.05, "hi": hi})
    return pd.DataFrame(rows)


def test_benchmark_rules_follow_the_numbers():
    assert all(held(claims.benchmark_checks(_deltas())["c1"]))
    no_gain = claims.benchmark_checks(_deltas(grpo_math=(0.02, -0.01, 0.05)))  # interval includes 0
    assert held(no_gain["c1"]) == [False, True]
    worse = claims.benchmark_checks(_deltas(sft_math=(-0.3, -0.4, -0.2), sft_general=0.05))
    assert held(worse["c2"]) == [False, False]


def _weights(qk=2.0, sft_scale=5.0, layers=6):
    """A weights table: GRPO and SFT-1ep; q and k move ``qk`` times the others, twice as much in the
    middle third; SFT moves everything ``sft_scale`` times GRPO."""
    rows = []
    mid = range(2, 4)
    for run, scale in (("grpo-s0", 1.0), ("sft1ep-s0", sft_scale)):
        for layer in range(layers):
            for m in MATRICES:
                v = 1e-3 * scale * (qk if m in ("q", "k") else 1.0) * (2.0 if layer in mid else 1.0)
                rows.append({"run": run, "checkpoint": "step-2", "step": 2, "fraction": 1.0, "layer": layer,
                             "matrix": m, "metric": "rel_frobenius", "value": v})
    return pd.DataFrame(rows)


def test_weight_rules_follow_the_numbers():
    w = claims.weight_checks(_weights())
    assert all(held(w["c3"]))
    assert w["ratios"]["sft1ep"]["all"] == pytest.approx(5.0)
    # mid-layer MLPs move exactly as much more as everything else: not "more"
    assert held(w["c4"]) == [True, False]
    flat = claims.weight_checks(_weights(qk=0.5, sft_scale=1.5))
    assert held(flat["c3"]) == [False, True] and not any(held(flat["c4"]))


def _kl(shapes):
    rows = []
    for run, f in shapes.items():
        for i in range(21):
            rows.append({"run": run, "checkpoint": f"s{i}", "step": i, "fraction": i / 20, "kl": f(i / 20), "n": 10})
    return pd.DataFrame(rows)


def test_kl_rules_follow_the_numbers():
    paper_like = _kl({"grpo-s0": lambda x: 0.4 * x, "sft1ep-s0": lambda x: 3.6 * min(1.0, 5 * x)})
    assert all(held(claims.kl_checks(paper_like)["c5"]))
    slow_sft = _kl({"grpo-s0": lambda x: 0.4 * x, "sft1ep-s0": lambda x: 3.6 * x ** 2})
    assert held(claims.kl_checks(slow_sft)["c5"]) == [True, False, True]
    # "far above" is a factor (FAR_ABOVE = 2), not ">": 1.5x GRPO's final KL is above, but not far above
    near = _kl({"grpo-s0": lambda x: 0.4 * x, "sft1ep-s0": lambda x: 0.6 * min(1.0, 5 * x)})
    assert held(claims.kl_checks(near)["c5"])[0] is False
    assert claims.at_fraction(slow_sft, "sft1ep-s0", 0.5) == pytest.approx(0.9)


def test_kl_shape_is_what_notebook_04_shows_and_claim_5_tests():
    """One summary of a KL curve, shared by the notebook and the claims."""
    table = _kl({"grpo-s0": lambda x: 0.4 * x, "sft1ep-s0": lambda x: 3.6 * min(1.0, 5 * x)})
    shape = claims.kl_shape(table, "sft1ep-s0")
    assert shape["10%"] == pytest.approx(1.8) and shape["15%"] == pytest.approx(2.7)
    assert shape["end"] == pytest.approx(3.6) and shape["share_at_25"] == pytest.approx(1.0)
    assert shape["share_at_10"] == pytest.approx(0.5)
    summary = claims.kl_summary(table)
    assert list(summary.index) == ["grpo-s0", "sft1ep-s0"]
    assert summary.loc["grpo-s0", "share_at_25"] == pytest.approx(0.25)
    assert summary.loc["sft1ep-s0", "paper"] == "10% 2.2, 15% 3.0, end 3.6"
    curve = claims.kl_checks(table)["curve"]["sft1ep"]
    assert curve == {k: shape[k] for k in ("10%", "15%", "25%", "end", "share_at_25")}


def test_freeze_side_by_side_puts_the_papers_number_beside_ours():
    scores = pd.DataFrame([{"model": m, "key": k, "benchmark": published_label, "score": v}
                           for m, v in (("base", 0.5), ("sft3ep", 0.25), ("sft3ep-qk+lm_head", 0.125),
                                        ("sft3ep-qk", 0.375), ("sft3ep-attention", 1.0))
                           for k, published_label in (("math500", "MATH-500"), ("gpqa", "GPQA:Diamond"))])
    table = published.freeze_side_by_side(scores, {"base": "Base", "sft3ep-qk+lm_head": "q, k, lm_head"})
    assert list(table.index) == ["MATH-500", "GPQA:Diamond"]
    assert list(table.columns) == ["Base", "sft3ep", "q, k, lm_head", "sft3ep-qk", "sft3ep-attention"]
    # the paper's "only q, k" MATH-500 (0.34) was run with lm_head trainable: it stands beside that run
    assert table.loc["MATH-500", "q, k, lm_head"] == "0.12 / 0.34"
    assert table.loc["MATH-500", "sft3ep-qk"] == "0.38 / -"  # a strict q/k run was not published
    assert table.loc["GPQA:Diamond", "Base"] == "0.50 / 0.27"
    assert table.loc["MATH-500", "sft3ep-attention"] == "1.00 / -"  # not in the paper


def test_compute_writes_json_with_every_claim(tmp_path):
    deltas = _deltas()
    scores = pd.DataFrame([{"model": m, "benchmark": k, "key": k, "score": 0.5, "lo": 0.4, "hi": 0.6, "n": 10}
                           for m in ("base", "grpo", "sft1ep", "sft3ep") for k in published.BENCHMARKS])
    weights = pd.concat([_weights(), _weights().query("run == 'sft1ep-s0'").assign(run="sft3ep-s0")])
    kl = _kl({"grpo-s0": lambda x: 0.4 * x, "sft1ep-s0": lambda x: 3.6 * min(1.0, 5 * x),
              "sft3ep-s0": lambda x: 4.7 * min(1.0, 5 * x)})
    effects = freeze_summary.effects(pd.DataFrame(
        [{"model": "sft3ep-qk+lm_head", "key": "gpqa", "delta": 0.1, "lo": 0.05, "hi": 0.15},
         {"model": "sft3ep-qk+lm_head", "key": "mmlu", "delta": -0.1, "lo": -0.15, "hi": -0.05},
         {"model": "sft3ep-frozen-mid-mlp", "key": "gpqa", "delta": 0.0, "lo": -0.05, "hi": 0.05}]))
    frozen = pd.DataFrame([{"run": "sft3ep-qk-s0", "frozen cells": 10, "largest change of a frozen cell": 0.0}])
    graders = rewards.grader_table({"base": {"math500": [{"completion": "$\\boxed{3}$"}]}},
                                   [{"answer": "3", "solution": "$\\boxed{3}$"}])
    numbers = claims.compute({"deltas": deltas, "scores": scores, "weights": weights, "kl": kl, "graders": graders,
                              "freeze_scores": scores, "freeze_effects": effects, "freeze_frozen": frozen}, "test")
    assert numbers["graders"]["base"]["accuracy_disagree"] == 0.0
    assert set(numbers["verdicts"]) == {f"c{i}" for i in range(1, 8)}
    assert numbers["verdicts"]["c6"] == "partly reproduced"  # GPQA helped; frozen-mid-mlp's mixing undecided
    assert numbers["verdicts"]["c7"] == "reproduced"
    assert numbers["freezing"]["frozen_check"] == {"sft3ep-qk-s0": {"frozen_cells": 10, "largest_change": 0.0}}
    path = claims.write(numbers, tmp_path / "n.json")
    assert json.loads(path.read_text())["weights"]["ratios"]["sft3ep"]["all"] == pytest.approx(5.0)
    table = claims.verdict_table(numbers)
    assert len(table) == sum(len(c) for c in numbers["checks"].values())


def _retention(deltas, grpo=-0.05, sft=-0.3, significant=True):
    """``deltas`` with every general retention score: GRPO and SFT change each by these amounts
    (a significant drop on MMLU's margin when ``significant``)."""
    rows = []
    for model, d in (("grpo", grpo), ("sft1ep", sft), ("sft3ep", sft)):
        for key in claims.GENERAL_RETENTION:
            hi = d / 2 if significant and key == "mmlu_margin" else abs(d) + 0.01
            rows.append({"model": model, "key": key, "delta": d, "lo": d - 0.1, "hi": hi})
    return pd.concat([deltas, pd.DataFrame(rows)], ignore_index=True)


def test_retention_rules_count_directions_and_significant_drops():
    both = claims.benchmark_checks(_retention(_deltas()))
    assert len(both["c1"]) == 3 and len(both["c2"]) == 3 and all(held(both["c1"])) and all(held(both["c2"]))
    assert both["grpo"]["retention_down"] == 5 and both["grpo"]["retention_significant_drops"] == 1
    assert "1 significantly" in both["estimates"][list(both["c1"])[2]]
    unseen = claims.benchmark_checks(_retention(_deltas(), significant=False))  # drops, none significant
    assert held(unseen["c1"])[2] is False and held(unseen["c2"])[2] is False
    sft_keeps = claims.benchmark_checks(_retention(_deltas(), grpo=-0.3, sft=-0.05))
    assert held(sft_keeps["c2"])[2] is False  # SFT above GRPO on every retention score
    assert len(claims.benchmark_checks(claims.paper_deltas())["c1"]) == 2  # the paper has no retention scores


def _seeded_tables(math_by_seed, pooled_math):
    """Tables of three seeds whose GRPO MATH-500 change is (delta, lo, hi) per seed and pooled;
    everything else as in :func:`_deltas`, :func:`_weights` and :func:`_kl`."""
    parts = [_deltas(grpo_math=m).assign(seed=str(i)) for i, m in enumerate(math_by_seed)]
    parts.append(_deltas(grpo_math=pooled_math).assign(seed="pooled"))
    weights, kl = [], []
    for i in range(len(math_by_seed)):
        w = _weights()
        weights += [w.assign(run=w.run.str.replace("-s0", f"-s{i}")),
                    w.query("run == 'sft1ep-s0'").assign(run=f"sft3ep-s{i}")]
        kl.append(_kl({f"grpo-s{i}": lambda x: 0.4 * x, f"sft1ep-s{i}": lambda x: 3.6 * min(1.0, 5 * x),
                       f"sft3ep-s{i}": lambda x: 4.7 * min(1.0, 5 * x)}))
    scores = pd.DataFrame([{"model": m, "benchmark": k, "key": k, "score": 0.5, "lo": 0.4, "hi": 0.6, "n": 10,
                            "seed": "pooled"} for m in ("base", "grpo", "sft1ep", "sft3ep") for k in published.BENCHMARKS])
    effects = freeze_summary.effects(pd.DataFrame(
        [{"model": "sft3ep-qk+lm_head", "key": "gpqa", "delta": 0.1, "lo": 0.05, "hi": 0.15}]))
    frozen = pd.DataFrame([{"run": "sft3ep-qk-s0", "frozen cells": 10, "largest change of a frozen cell": 0.0}])
    graders = rewards.grader_table({"base": {"math500": [{"completion": "$\\boxed{3}$"}]}},
                                   [{"answer": "3", "solution": "$\\boxed{3}$"}])
    return {"deltas": pd.concat(parts, ignore_index=True), "scores": scores, "weights": pd.concat(weights),
            "kl": pd.concat(kl), "graders": graders, "freeze_scores": scores, "freeze_effects": effects,
            "freeze_frozen": frozen}


GAIN = "GRPO gains in domain (MATH-500)"


@pytest.mark.parametrize("by_seed, pooled, k, expected", [
    ([(0.05, 0.01, 0.09)] * 3, (0.05, 0.02, 0.08), 3, True),  # every seed and pooled
    ([(0.05, 0.01, 0.09), (0.05, 0.01, 0.09), (0.0, -0.04, 0.04)], (0.03, 0.01, 0.06), 2, True),  # 2 of 3
    ([(0.05, 0.01, 0.09), (0.0, -0.04, 0.04), (0.0, -0.04, 0.04)], (0.02, 0.001, 0.04), 1, False),  # fragile
    ([(0.05, 0.01, 0.09)] * 3, (0.05, -0.01, 0.11), 3, False),  # every seed, but not pooled
])
def test_a_check_holds_pooled_and_in_most_seeds(by_seed, pooled, k, expected):
    numbers = claims.compute(_seeded_tables(by_seed, pooled), "test")
    d = numbers["check_detail"]["c1"][GAIN]
    assert numbers["seeds"] == ["0", "1", "2"] and d["n"] == 3 and d["k"] == k
    assert d["holds"] is expected and numbers["checks"]["c1"][GAIN] == ("holds" if expected else "fails")
    assert d["pooled"] == ("holds" if pooled[1] > 0 else "fails") and d["fragile"] is ((pooled[1] > 0) != (k >= 2))
    assert d["estimate"] == f"MATH-500 {pooled[0]:+.3f} [{pooled[1]:+.3f}, {pooled[2]:+.3f}]"
    assert set(d["seed_estimates"]) == {"0", "1", "2"}
    assert numbers["check_detail"]["c6"][list(numbers["checks"]["c6"])[0]]["n"] == 1  # the freeze ablation: one seed
    assert numbers["by_seed"]["2"]["benchmarks"]["grpo"]["math500_delta"] == by_seed[2][0]
    table = claims.verdict_table(numbers)
    assert table.xs(GAIN, level="check").seeds.iloc[0] == f"{k} of 3"


def test_pooled_weights_and_kl_are_means_over_seeds():
    tables = _seeded_tables([(0.05, 0.01, 0.09)] * 3, (0.05, 0.02, 0.08))
    tables["kl"] = tables["kl"].assign(kl=np.where(tables["kl"].run == "grpo-s2", 4 * tables["kl"].kl, tables["kl"].kl))
    numbers = claims.compute(tables, "test")
    assert numbers["kl"]["curve"]["grpo"]["end"] == pytest.approx((0.4 + 0.4 + 1.6) / 3)
    assert numbers["by_seed"]["2"]["kl"]["curve"]["grpo"]["end"] == pytest.approx(1.6)
    assert numbers["weights"]["ratios"]["sft1ep"]["all"] == pytest.approx(5.0)


def test_missing_tables_name_the_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run notebooks/03_weight_changes.ipynb with preset='tiny'"):
        claims.load_tables("tiny")


# --- notebook 02's summary ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec, layers, expected", [
    ("all", "", set()),
    ("qk", "", {(layer, m) for layer in range(8) for m in ("v", "o", "gate", "up", "down")}),
    ("attention", "", {(layer, m) for layer in range(8) for m in ("gate", "up", "down")}),
    ("frozen-mid-mlp", "", {(layer, m) for layer in (3, 4) for m in ("gate", "up", "down")}),
    ("frozen-mid-mlp", "1-2", {(layer, m) for layer in (1, 2) for m in ("gate", "up", "down")}),
])
def test_frozen_cells_follow_the_recorded_spec(tmp_path, spec, layers, expected):
    (tmp_path / runs.RUN_CONFIG).write_text(json.dumps({"trainable": spec, "frozen_layers": layers}))
    assert freeze_summary.frozen_cells(tmp_path, 8) == expected


def test_frozen_changes_find_a_frozen_matrix_that_moved(tmp_path):
    (tmp_path / runs.RUN_CONFIG).write_text(json.dumps({"trainable": "qk"}))
    table = _weights(layers=2).query("run == 'grpo-s0'").assign(run="sft3ep-qk-s0")
    table.loc[~table.matrix.isin(["q", "k"]), "value"] = 0.0
    ok = freeze_summary.frozen_changes(table, {"sft3ep-qk-s0": tmp_path})
    assert ok.loc["sft3ep-qk-s0", "largest change of a frozen cell"] == 0.0
    assert ok.loc["sft3ep-qk-s0", "frozen cells"] == 10 and ok.loc["sft3ep-qk-s0", "trained cells"] == 4
    table.loc[(table.matrix == "v") & (table.layer == 1), "value"] = 1e-9
    moved = freeze_summary.frozen_changes(table, {"sft3ep-qk-s0": tmp_path})
    assert moved.loc["sft3ep-qk-s0", "largest change of a frozen cell"] == pytest.approx(1e-9)


def test_effects_and_words_come_from_the_intervals():
    effects = freeze_summary.effects(pd.DataFrame([
        {"model": "a", "key": "gpqa", "delta": 0.1, "lo": 0.02, "hi": 0.2},
        {"model": "a", "key": "mmlu", "delta": -0.1, "lo": -0.2, "hi": -0.01},
        {"model": "a", "key": "gsm8k", "delta": 0.05, "lo": -0.01, "hi": 0.1},
        {"model": "b", "key": "gpqa", "delta": 0.0, "lo": -0.1, "hi": 0.1}]))
    assert list(effects.effect) == ["helped", "hurt", "no significant change", "no significant change"]
    words = freeze_summary.describe(effects, {"a": "A"}, "full SFT")
    assert words[0] == ("A, against full SFT: helped GPQA:Diamond (+0.100) and hurt MMLU (-0.100); "
                        "no significant change on 1 of 3.")
    assert words[1] == "b, against full SFT: helped no benchmark and hurt none; no significant change on 1 of 1."
    assert words[2] == "Mixed (helped some benchmarks, hurt others): A."


def test_run_names_and_the_how_to_train_message(tmp_path, monkeypatch):
    assert runs.model_name("sft3ep-frozen-mid-mlp-s12") == "sft3ep-frozen-mid-mlp"
    assert runs.spec_of("sft3ep-frozen-mid-mlp-s0") == "frozen-mid-mlp" and runs.spec_of("grpo-s0") == "all"
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    from scalpel_core.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="scalpel train --preset tiny --method sft3ep --trainable qk"):
        runs.finished("tiny", "sft3ep-qk-s0")


def _inside(tables, grpo_bf16=0.4, sft_bf16=0.05, grpo_angle=0.5, sft_angle=2.0, rho_sign=1.0, hot=5.0,
            grpo_jsd=1e-3, sft_jsd=2e-2, seed_flip=None, eff_rank=0.95):
    """Notebook 06's tables for the runs of ``tables``: sparsity, spectra (final checkpoint) and
    attention (6 layers x 4 heads) whose per-layer JSD follows the per-layer q/k change (``rho_sign``
    +1) or runs against it (-1); GRPO's head (5, 0) moves ``hot`` times the others. ``seed_flip``:
    a seed whose GRPO is as rotated and as dense as SFT."""
    runs_ = list(dict.fromkeys(tables["weights"].run))
    sp, spec, att = [], [], []
    for run in runs_:
        grpo = run.startswith("grpo")
        flip = seed_flip is not None and run.endswith(f"-s{seed_flip}")
        bf16 = sft_bf16 * 0.9 if grpo and flip else grpo_bf16 if grpo else sft_bf16
        angle = sft_angle * 1.1 if grpo and flip else grpo_angle if grpo else sft_angle
        qk = tables["weights"][(tables["weights"].run == run) & tables["weights"].matrix.isin(["q", "k"])]
        per_layer = qk.groupby("layer").value.mean()
        for layer in range(6):
            for m in MATRICES:
                base = {"run": run, "checkpoint": "step-2", "step": 2, "fraction": 1.0, "layer": layer, "matrix": m}
                sp += [{**base, "metric": "frac_unchanged", "value": 0.0},
                       {**base, "metric": "frac_unchanged_bf16", "value": bf16},
                       {**base, "metric": "frac_within_tol", "value": bf16 / 2}]
                spec += [{**base, "metric": "rank_fraction", "value": 0.99},
                         {**base, "metric": "effective_rank_fraction", "value": eff_rank},
                         {**base, "metric": "left_angle_max@5%", "value": angle},
                         {**base, "metric": "spectrum_shift", "value": angle / 1000}]
            order = per_layer.rank().loc[layer] if rho_sign > 0 else 7 - per_layer.rank().loc[layer]
            for head in range(4):
                j = (grpo_jsd if grpo else sft_jsd) * (order + 0.01 * head) * (hot if grpo and (layer, head) == (5, 0) else 1)
                att.append({"run": run, "checkpoint": "step-2", "step": 2, "fraction": 1.0, "layer": layer,
                            "head": head, "jsd": j, "entropy_base": 1.0, "entropy_ckpt": 1.0 - j,
                            "entropy_change": -j})
    return {**tables, "sparsity": pd.DataFrame(sp), "spectra": pd.DataFrame(spec), "attention": pd.DataFrame(att)}


def _names(numbers, c):
    return list(numbers["checks"][c])


def test_inside_rules_follow_the_numbers():
    """Claims 8 and 9: each check flips with the number it reads; the size-confounded comparisons
    are reported but not counted (their matched twins count, absent here)."""
    base = _seeded_tables([(0.05, 0.01, 0.09)] * 3, (0.05, 0.02, 0.08))
    # q/k change per layer varies only as middle vs rest in _weights: spread it so ranks are defined
    base["weights"] = base["weights"].assign(value=base["weights"].value * (1 + 0.1 * base["weights"].layer))
    good = claims.compute(_inside(base), "test")
    c8, c9 = good["checks"]["c8"], good["checks"]["c9"]
    follows, per_kl, concentrated = _names(good, "c8")
    sparser, full_rank, rotates, spectrum = _names(good, "c9")
    assert held(c9) == [True, True, True, True] and good["verdicts"]["c9"] == "reproduced"
    assert c8[follows] == "holds" and c8[concentrated] == "holds"
    assert good["inside"]["pooled"]["rho_test"]["grpo"]["p"] < 0.05
    # JSD / KL: GRPO 1e-3-scale over KL 0.4 against SFT 2e-2-scale over 3.6 and 4.7: SFT higher
    assert c8[per_kl] == "fails"
    for name in (per_kl, concentrated, sparser, rotates, spectrum):  # as run: reported, not counted
        assert good["check_detail"]["c8" if name in c8 else "c9"][name]["counted"] is False
    assert good["check_detail"]["c9"][full_rank]["counted"] is True
    assert good["inside"]["pooled"]["rho"]["grpo"] > 0.8 and good["inside"]["pooled"]["rho"]["sft1ep"] == pytest.approx(1.0)
    against = claims.compute(_inside(base, rho_sign=-1.0), "test")
    assert against["checks"]["c8"][follows] == "fails" and against["inside"]["pooled"]["rho"]["grpo"] < 0
    even = claims.compute(_inside(base, hot=1.0), "test")  # GRPO no more concentrated than SFT: a comparison
    assert even["checks"]["c8"][concentrated] == "fails"
    quiet_sft = claims.compute(_inside(base, sft_jsd=1e-5), "test")
    assert quiet_sft["checks"]["c8"][per_kl] == "holds"
    dense = claims.compute(_inside(base, grpo_bf16=0.01, grpo_angle=3.0, eff_rank=0.5), "test")
    assert [dense["checks"]["c9"][k] for k in (sparser, full_rank, rotates, spectrum)] == ["fails"] * 4
    assert dense["verdicts"]["c9"] == "not reproduced"  # only the effective rank counts without matched runs
    one_seed_off = claims.compute(_inside(base, seed_flip=2), "test")  # 2 of 3 seeds, pooled still holds
    d = one_seed_off["check_detail"]["c9"][rotates]
    assert d["k"] == 2 and d["holds"] and d["seeds"] == {"0": "holds", "1": "holds", "2": "fails"}


def test_rho_needs_a_significant_permutation_test():
    """Claim 8a: a perfect rank correlation over three layers is no evidence (p = 1/6)."""
    rows_w, rows_a = [], []
    for layer in range(3):
        for m in ("q", "k"):
            rows_w.append({"run": "grpo-s0", "fraction": 1.0, "layer": layer, "matrix": m, "metric": "rel_frobenius",
                           "value": 1.0 + layer})
        rows_a.append({"run": "grpo-s0", "fraction": 1.0, "layer": layer, "head": 0, "jsd": 0.1 * (1 + layer)})
    rho, p = inside.correlation_test(pd.DataFrame(rows_a), pd.DataFrame(rows_w), ["grpo-s0"])
    assert rho == pytest.approx(1.0) and p == pytest.approx(1 / 6, abs=0.05)


def test_claims_without_notebook_06_tables_skip_claims_8_and_9():
    numbers = claims.compute(_seeded_tables([(0.05, 0.01, 0.09)] * 3, (0.05, 0.02, 0.08)), "test")
    assert "c8" not in numbers["checks"] and numbers["inside"] == {}


def _amplify(tables, adv1=(0.04, 0.01, 0.07), shrink=(0.2, 0.05, 0.35), grpo_excess=(0.0, -0.03, 0.03),
             sft_excess=(0.1, 0.06, 0.14), seed_off=None):
    """``tables`` with notebook 07's crossing and gained/lost tables: GRPO's pass@1 advantage, its
    headroom shrink beyond the null, and every run's problems gained beyond the noise floor, each
    (point, lo, hi), the same in every seed (seed ``seed_off``: GRPO gains 0.1 [0.07, 0.13])."""
    rows, gl = [], [{"model": "base, another sampling seed", "method": "base", "seed": claims.FLOOR, "gained": 0.03,
                     "lost": 0.03}]
    for seed in ("pooled", "0", "1", "2"):
        for m, a1, sh in (("grpo", adv1, shrink), ("sft1ep", (-0.1, -0.15, -0.05), (0.0, -0.1, 0.1)),
                          ("sft3ep", (-0.5, -0.55, -0.45), (0.0, -0.1, 0.1))):
            rows.append({"method": m, "seed": seed, "problems": 200, "pass@1": 0.6 + a1[0], "pass@32": 0.9,
                         "base pass@1": 0.6, "base pass@32": 0.9, "advantage@1": a1[0], "advantage@32": 0.0,
                         "advantage@1 lo": a1[1], "advantage@1 hi": a1[2], "shrink": sh[0], "shrink_null": 0.0,
                         "shrink_excess": sh[0], "shrink_excess lo": sh[1], "shrink_excess hi": sh[2],
                         "sign": 1, "k": 8, "lo": 1, "hi": None, "p_cross": 0.8})
            e = grpo_excess if m == "grpo" else sft_excess
            e = (0.1, 0.07, 0.13) if (m == "grpo" and seed == seed_off) else e
            gl.append({"model": m, "method": m, "seed": seed, "gained": 0.03 + e[0], "lost": 0.05,
                       "excess_gained": e[0], "excess_lo": e[1], "excess_hi": e[2], "floor_gained": 0.03})
    return {**tables, "passk_crossing": pd.DataFrame(rows), "gained_lost": pd.DataFrame(gl)}


def test_claim_7_from_pass_at_k_follows_the_numbers():
    """Claim 7 (verdicts issue): one standard of evidence, the noise floor, and each check's three ways."""
    def with_retention(tables, sft_hi):  # every general retention score, every seed: SFT -0.3 (upper end sft_hi)
        rows = [{"model": m, "key": k, "delta": d, "lo": d - 0.1, "hi": hi, "seed": s}
                for s in ("0", "1", "2", "pooled") for k in claims.GENERAL_RETENTION
                for m, d, hi in (("grpo", -0.01, 0.05), ("sft1ep", -0.3, sft_hi), ("sft3ep", -0.3, sft_hi))]
        return {**tables, "deltas": pd.concat([tables["deltas"], pd.DataFrame(rows)], ignore_index=True)}

    plain = _seeded_tables([(0.05, 0.01, 0.09)] * 3, (0.05, 0.02, 0.08))
    base = with_retention(plain, -0.2)
    good = claims.compute(_amplify(base), "test")
    shrinks, few, sft_gains, forgets = _names(good, "c7")
    c7 = good["checks"]["c7"]
    assert held(c7) == [True] * 4 and good["verdicts"]["c7"] == "reproduced"
    assert "advantage@1 +0.040 [+0.010, +0.070]" in good["check_detail"]["c7"][shrinks]["estimate"]
    assert good["check_detail"]["c7"][shrinks]["premise"]["holds"] is True
    assert claims.compute(_amplify(with_retention(plain, 0.1)), "test")["checks"]["c7"][forgets] == "fails"
    keeps = claims.compute(_amplify(base, shrink=(0.05, -0.05, 0.15)), "test")  # no more shrink than the null
    assert keeps["checks"]["c7"][shrinks] == "fails"
    behind = claims.compute(_amplify(base, adv1=(0.02, -0.01, 0.05)), "test")  # no significant pass@1 advantage
    assert behind["checks"]["c7"][shrinks] == "not testable here"
    assert behind["check_detail"]["c7"][shrinks]["premise"]["holds"] is False
    many = claims.compute(_amplify(base, grpo_excess=(0.1, 0.07, 0.13)), "test")
    assert many["checks"]["c7"][few] == "fails"
    wide = claims.compute(_amplify(base, grpo_excess=(0.03, -0.02, 0.08)), "test")
    assert wide["checks"]["c7"][few] == "underpowered"
    sft_few = claims.compute(_amplify(base, sft_excess=(0.01, -0.02, 0.04)), "test")
    assert sft_few["checks"]["c7"][sft_gains] == "fails"
    sft_wide = claims.compute(_amplify(base, sft_excess=(0.05, -0.01, 0.11)), "test")
    assert sft_wide["checks"]["c7"][sft_gains] == "underpowered"
    one_seed_off = claims.compute(_amplify(base, seed_off="1"), "test")
    d = one_seed_off["check_detail"]["c7"][few]
    assert d["k"] == 2 and d["holds"] and d["seeds"]["1"] == "fails"
    # the margin FEW = 0.05: GRPO's excess [-0.03, +0.03] is "few" at 0.05 and 0.1, undecided at 0.025
    sens = good["sensitivity"]["c7"][few]
    assert (sens["half"], sens["state"], sens["double"], sens["knife_edge"]) == ("underpowered", "holds", "holds", True)
    # without notebook 07's tables claim 7 keeps its checks from averages
    assert "GRPO amplifies: it gains in domain" in claims.compute(plain, "test")["checks"]["c7"]
