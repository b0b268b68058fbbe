"""Bootstrap intervals, paired differences, and the side-by-side table against the paper."""

import numpy as np
import pandas as pd
import pytest

from scalpel_core.eval import scoring, stats
from scalpel_core.report import published


def test_interval_brackets_the_score_and_narrows_with_more_items():
    rng = np.random.default_rng(0)
    small = rng.random(50) < 0.4
    large = rng.random(2000) < 0.4
    for x in (small, large):
        lo, hi = stats.ci(x)
        assert lo < stats.score(x) < hi
    assert np.diff(stats.ci(large)) < np.diff(stats.ci(small)) / 4  # ~ 1/sqrt(n)


def test_binomial_interval_matches_the_normal_approximation():
    x = np.r_[np.ones(300), np.zeros(700)]
    lo, hi = stats.ci(x, n_boot=4000)
    half = 1.96 * np.sqrt(0.3 * 0.7 / 1000)
    assert lo == pytest.approx(0.3 - half, abs=0.006) and hi == pytest.approx(0.3 + half, abs=0.006)


def test_ratio_of_sums_resamples_whole_items():
    num, den = [3, 0, 1, 2], [3, 2, 1, 4]
    assert stats.score(num, den) == 6 / 10
    lo, hi = stats.ci(num, den)
    assert 0 <= lo < 0.6 < hi <= 1


def test_paired_difference_of_identical_models_is_exactly_zero_and_shift_is_found():
    a = np.random.default_rng(1).random(400) < 0.5
    assert stats.paired_delta_ci(a, a) == (0.0, 0.0)
    b = a.copy()
    b[np.flatnonzero(~a)[:60]] = True  # 60 items gained, none lost
    lo, hi = stats.paired_delta_ci(a, b)
    assert 0 < lo < 60 / 400 < hi or lo == hi == 60 / 400


def _coverage(intervals, truth) -> float:
    return float(np.mean([lo <= truth <= hi for lo, hi in intervals]))


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_item_bootstrap_covers_its_level(level):
    """On 1000 simulated benchmarks (200 items, accuracy 0.4) the interval holds the true
    accuracy at its nominal rate: a 90% interval in place of a 95% one is caught (SE 0.007)."""
    rng = np.random.default_rng(7)
    sims = [rng.random(200) < 0.4 for _ in range(1000)]
    cover = _coverage([stats.ci(x, level=level, n_boot=1000, seed=i) for i, x in enumerate(sims)], 0.4)
    assert abs(cover - level) < 0.02, cover


def _seeded_runs(rng, n_seeds=20, n_items=40, seed_sd=0.1, item_sd=0.1, noise_sd=0.05):
    """Retention-like scores of n_seeds training seeds on the same n_items items: a seed effect,
    an item effect shared by every seed (its difficulty) and noise; the true mean is 0."""
    return (rng.normal(0, seed_sd, (n_seeds, 1)) + rng.normal(0, item_sd, (1, n_items))
            + rng.normal(0, noise_sd, (n_seeds, n_items)))


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_seed_and_item_bootstrap_covers_its_level_where_the_item_bootstrap_does_not(level):
    """Seeds differ and items differ (each seed on the same items): the two-stage bootstrap holds
    the true mean at its nominal rate (600 simulations, SE 0.009), so a 90% interval in place of
    a 95% one is caught; the item bootstrap of the mean over seeds (seeds held fixed) ignores the
    spread between seeds and falls far short."""
    rng = np.random.default_rng(11)
    sims = [_seeded_runs(rng) for _ in range(600)]
    two = _coverage([stats.seed_item_ci(x, level=level, n_boot=1000, seed=i) for i, x in enumerate(sims)], 0.0)
    items = _coverage([stats.ci(x.mean(0), level=level, n_boot=1000, seed=i) for i, x in enumerate(sims)], 0.0)
    assert abs(two - level) < 0.025, two
    assert items < level - 0.15, items


def test_seed_and_item_bootstrap_pairs_with_the_base():
    rng = np.random.default_rng(3)
    base = (rng.random(300) < 0.5).astype(float)
    same = np.stack([base, base, base])
    assert stats.seed_score(same, base=base) == 0.0 and stats.seed_item_ci(same, base=base) == (0.0, 0.0)
    better = same.copy()
    better[:, np.flatnonzero(base == 0)[:30]] = 1.0  # every seed gains the same 30 items
    lo, hi = stats.seed_item_ci(better, base=base)
    assert stats.seed_score(better, base=base) == pytest.approx(0.1) and 0 < lo <= 0.1 <= hi
    with pytest.raises(ValueError, match="same items"):
        stats.seed_item_ci(same, base=base[:10])
    with pytest.raises(ValueError, match="seeds, items"):
        stats.seed_item_ci(base)


def test_mismatched_items_are_refused():
    with pytest.raises(ValueError, match="same items"):
        stats.paired_delta_ci([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="equal-length"):
        stats.ci([1, 0], [1])


def _vectors(scores: dict[str, float], n: int = 200) -> dict:
    """Per benchmark key, n items of which round(score * n) are correct."""
    return {k: ([1.0] * round(s * n) + [0.0] * (n - round(s * n)), [1.0] * n) for k, s in scores.items()}


def test_side_by_side_marks_directions_significance_and_agreement():
    keys = list(scoring.LABELS)
    base = {k: 0.5 for k in keys}
    grpo = dict(base, math500=0.6, mmlu=0.45, gsm8k=0.5)  # up, down, unchanged
    models = {"base": _vectors(base), "grpo": _vectors(grpo)}
    scores = scoring.score_table(models)
    side = published.side_by_side(scores, scoring.deltas(models)).set_index("key")
    assert side.loc["math500", "ours_dir"] == "↑" and side.loc["math500", "paper_dir"] == "↑"  # 0.35 -> 0.40
    assert side.loc["math500", "agrees"] and side.loc["math500", "significant"]
    assert side.loc["mmlu", "ours_dir"] == "↓" and side.loc["mmlu", "agrees"]  # paper 0.62 -> 0.59
    assert side.loc["gsm8k", "ours_dir"] == "=" and not side.loc["gsm8k", "agrees"]  # paper 0.80 -> 0.78
    assert not side.loc["gsm8k", "significant"]
    assert side.loc["math500", "paper"] == published.paper_score("math500", "grpo")
    wide = published.side_by_side_wide(side.reset_index())
    assert wide.loc["MATH-500", "grpo"] == "0.60↑* / 0.40↑ ✓"
    groups = scoring.group_deltas(scoring.deltas(models))
    assert groups.loc["grpo", "in-domain (MATH-500)"] == pytest.approx(0.1)
    assert groups.loc["grpo", "other maths (AIME24, GSM8K)"] == pytest.approx(0.0)
    assert groups.loc["grpo", "general (MMLU, MMLU-Pro, GPQA, IFEval)"] == pytest.approx(-0.01)


def test_score_table_has_an_interval_per_model_and_benchmark():
    models = {"base": _vectors({k: 0.3 for k in scoring.LABELS})}
    table = scoring.score_table(models)
    assert isinstance(table, pd.DataFrame) and len(table) == len(scoring.LABELS)
    assert ((table.lo < table.score) & (table.score < table.hi)).all() and (table.n == 200).all()


def test_seed_tables_hold_each_seed_and_the_pooled_mean():
    """Each seed's rows are that model's own score and paired change; the pooled row is the mean
    over seeds with the two-stage interval; the base appears once."""
    rng = np.random.default_rng(5)

    def vec(p, n=120):
        return {"math500": (list((rng.random(n) < p).astype(float)), [1.0] * n),
                "heldout_ll": (list(rng.normal(-2 * p, 0.1, n)), [3.0] * n)}

    models = {"base": vec(0.4), "grpo-s0": vec(0.5), "grpo-s1": vec(0.6)}
    groups = {"grpo-s0": ("grpo", 0), "grpo-s1": ("grpo", 1)}
    scores, deltas = scoring.seed_tables(models, groups)
    assert list(scores[scores.model == "base"].seed) == ["pooled", "pooled"]
    assert set(deltas.seed) == {"0", "1", "pooled"} and "base" not in set(deltas.model)
    one = scores[(scores.seed == "1") & (scores.key == "math500")].iloc[0]
    assert one.score == stats.score(*models["grpo-s1"]["math500"]) and one.model == "grpo"
    nums = [models[r]["heldout_ll"][0] for r in groups]
    pooled = scoring.pooled(deltas).set_index("key").loc["heldout_ll"]
    assert pooled.delta == pytest.approx(stats.seed_score(nums, [[3.0] * 120] * 2, base=models["base"]["heldout_ll"][0]))
    assert (pooled.lo, pooled.hi) == stats.seed_item_ci(nums, [[3.0] * 120] * 2, base=models["base"]["heldout_ll"][0])
    each = deltas[(deltas.seed != "pooled") & (deltas.key == "heldout_ll")].delta
    assert pooled.delta == pytest.approx(each.mean())  # the mean of the seeds' own changes
    assert scores[scores.key == "heldout_ll"].benchmark.iloc[0] == "held-out text (log-lik/token)"
