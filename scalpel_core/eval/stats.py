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


def paired_delta_ci(num_a, num_b, den=None, level: float = 0.95, n_boot: int = N_BOOT,
                    seed: int = 0) -> tuple[float, float]:
    """Interval of score(b) - score(a) on the same items, resampled together (paired)."""
    num_a, den, idx = _resampled(num_a, den, n_boot, seed)
    num_b = np.asarray(num_b, dtype=float)
    if num_b.shape != num_a.shape:
        raise ValueError(f"paired scores need the same items: {num_a.shape} vs {num_b.shape}")
    d = den[idx].sum(1)
    stats = num_b[idx].sum(1) / d - num_a[idx].sum(1) / d
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


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
    lo, hi = np.quantile(per.mean(1), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
