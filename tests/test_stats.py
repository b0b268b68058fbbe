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
