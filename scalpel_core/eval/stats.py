"""Bootstrap intervals over benchmark items, and over training seeds and items (percentile
method, fixed seed).

A score is a ratio of sums over items, ``sum(num) / sum(den)``: accuracy has ``den = 1``;
IFEval's instruction-level score has the instructions followed (``num``) and given (``den``)
per prompt, so prompts, not instructions, are resampled.
"""

from __future__ import annotations

import numpy as np

N_BOOT = 2000  # resamples; the interval's ends move by well under 0.01 between seeds at n >= 30


def _resampled(num, den, n_boot: int, seed: int):
    num = np.asarray(num, dtype=float)
    den = np.ones_like(num) if den is None else np.asarray(den, dtype=float)
    if num.shape != den.shape or num.ndim != 1 or len(num) == 0:
        raise ValueError(f"need two equal-length, non-empty 1-d arrays, got {num.shape} and {den.shape}")
    idx = np.random.default_rng(seed).integers(0, len(num), size=(n_boot, len(num)))
    return num, den, idx


def score(num, den=None) -> float:
    num = np.asarray(num, dtype=float)
    return float(num.sum() / (len(num) if den is None else np.asarray(den, dtype=float).sum()))


def ci(num, den=None, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(num) / sum(den)``."""
    num, den, idx = _resampled(num, den, n_boot, seed)
    stats = num[idx].sum(1) / den[idx].sum(1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _paired_draws(num_a, num_b, den, n_boot: int, seed: int) -> np.ndarray:
    num_a, den, idx = _resampled(num_a, den, n_boot, seed)
    num_b = np.asarray(num_b, dtype=float)
    if num_b.shape != num_a.shape:
        raise ValueError(f"paired scores need the same items: {num_a.shape} vs {num_b.shape}")
    d = den[idx].sum(1)
    return num_b[idx].sum(1) / d - num_a[idx].sum(1) / d


def paired_delta_ci(num_a, num_b, den=None, level: float = 0.95, n_boot: int = N_BOOT,
                    seed: int = 0) -> tuple[float, float]:
    """Interval of score(b) - score(a) on the same items, resampled together (paired)."""
    lo, hi = np.quantile(_paired_draws(num_a, num_b, den, n_boot, seed), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def p_value(draws) -> float:
    """Two-sided bootstrap p-value of "the change is 0": twice the smaller share of resamples on
    either side of 0 (0 included on both), at most 1; the level at which the percentile interval
    of the same resamples would just touch 0."""
    draws = np.asarray(draws, dtype=float)
    return float(min(1.0, 2 * min((draws <= 0).mean(), (draws >= 0).mean())))


def paired_delta_p(num_a, num_b, den=None, n_boot: int = N_BOOT, seed: int = 0) -> float:
    """:func:`p_value` of score(b) - score(a), from the resamples of :func:`paired_delta_ci`."""
    return p_value(_paired_draws(num_a, num_b, den, n_boot, seed))


def holm(pvalues, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down correction: which of the ``pvalues`` (one family of tests) are rejected at
    family-wise error ``alpha``. The smallest p is compared with alpha / m, the next with
    alpha / (m - 1), ..., stopping at the first that is not rejected."""
    p = np.asarray(pvalues, dtype=float)
    rejected = np.zeros(len(p), dtype=bool)
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        if not p[i] <= alpha / (len(p) - rank):
            break
        rejected[i] = True
    return rejected


def _per_seed(num, den):
    num = np.asarray(num, dtype=float)
    den = np.ones_like(num) if den is None else np.asarray(den, dtype=float)
    if num.ndim != 2 or num.shape != den.shape or 0 in num.shape:
        raise ValueError(f"need (seeds, items) arrays of one shape, got {num.shape} and {den.shape}")
    return num, den


def seed_score(num, den=None, base=None) -> float:
    """The pooled score of several seeds: the mean over seeds (rows) of each seed's
    ``sum(num) / sum(den)`` over items (columns); minus the base's score when ``base`` (its
    per-item numerators, one row) is given."""
    num, den = _per_seed(num, den)
    per = num.sum(1) / den.sum(1)
    if base is not None:
        per = per - np.asarray(base, dtype=float).sum() / den.sum(1)
    return float(per.mean())


def seed_item_ci(num, den=None, base=None, level: float = 0.95, n_boot: int = N_BOOT,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of :func:`seed_score` from a two-stage bootstrap: resample the seeds,
    then the items (so both the spread between training seeds and the finite benchmark count).
    Every seed is scored on the same benchmark items, so one item draw serves every resampled
    seed of a replicate (seeds and items are crossed, not nested: the items' own difficulty is
    shared by all seeds and does not average out over them). With ``base``, the change against
    the base on the same items, paired: the base's items are resampled with the seeds'."""
    lo, hi = np.quantile(_seed_item_draws(num, den, base, n_boot, seed), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def seed_item_p(num, den=None, base=None, n_boot: int = N_BOOT, seed: int = 0) -> float:
    """:func:`p_value` from the resamples of :func:`seed_item_ci` (with ``base``: of the change)."""
    return p_value(_seed_item_draws(num, den, base, n_boot, seed))


def _seed_item_draws(num, den, base, n_boot: int, seed: int) -> np.ndarray:
    """The resamples of :func:`seed_item_ci`."""
    num, den = _per_seed(num, den)
    n_seeds, n_items = num.shape
    rng = np.random.default_rng(seed)
    s_idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))[..., None]
    i_idx = rng.integers(0, n_items, size=(n_boot, 1, n_items))
    d = den[s_idx, i_idx].sum(-1)
    per = num[s_idx, i_idx].sum(-1) / d
    if base is not None:
        base = np.asarray(base, dtype=float)
        if base.shape != (n_items,):
            raise ValueError(f"paired scores need the same items: base {base.shape} vs {n_items} items")
        per = per - base[i_idx].sum(-1) / d
    return per.mean(1)


def seed_item_mean_change(parts, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float]:
    """The mean over benchmarks of each one's pooled change against the base, with its two-stage
    interval: ``parts`` is a list of ``(num, den, base)`` per benchmark (``num``/``den``: seeds x
    items, ``base``: the base's per-item numerators); one seed draw per replicate serves every
    benchmark (the same trained models answer all of them), the items are drawn per benchmark.
    Returns ``(point, lo, hi)``."""
    rng = np.random.default_rng(seed)
    n_seeds = np.asarray(parts[0][0]).shape[0]
    s_idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))[..., None]
    total, point = np.zeros(n_boot), 0.0
    for num, den, base in parts:
        num, den = _per_seed(num, den)
        base = np.asarray(base, dtype=float)
        i_idx = rng.integers(0, num.shape[1], size=(n_boot, 1, num.shape[1]))
        d = den[s_idx, i_idx].sum(-1)
        total += ((num[s_idx, i_idx].sum(-1) - base[i_idx].sum(-1)) / d).mean(1)
        point += seed_score(num, den, base)
    lo, hi = np.quantile(total / len(parts), [(1 - level) / 2, (1 + level) / 2])
    return point / len(parts), float(lo), float(hi)
