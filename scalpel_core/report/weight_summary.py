"""Numbers behind the paper's weight-change claims, from ``lenses.weights.run_table`` tables.

- Claim 3: which matrix types change most (mean over layers at the end of training), and
  where in depth the change peaks (the middle third of the layers, as in ``arch.middle_third``);
- Claim 4: how much more SFT moves the weights than GRPO, overall and for mid-layer MLPs.
"""

from __future__ import annotations

import pandas as pd

from ..arch import MATRICES, MLP, middle_third


def final(table, metric: str = "rel_frobenius") -> pd.DataFrame:
    """The last checkpoint of each run, one metric."""
    t = table[table.metric == metric]
    return t[t.fraction == t.groupby("run").fraction.transform("max")]


def by_matrix(table, metric: str = "rel_frobenius") -> pd.DataFrame:
    """run x matrix: mean change over layers at the end of training."""
    return final(table, metric).pivot_table(index="run", columns="matrix", values="value")[list(MATRICES)]


def by_layer(table, matrices=MATRICES, metric: str = "rel_frobenius") -> pd.DataFrame:
    """run x layer: mean change over ``matrices`` at the end of training."""
    f = final(table, metric)
    return f[f.matrix.isin(matrices)].pivot_table(index="run", columns="layer", values="value")


def _middle(n_layers: int) -> list[int]:
    first, last = middle_third(n_layers)
    return list(range(first, last + 1))


def depth_profile(table, matrices=MATRICES, metric: str = "rel_frobenius") -> pd.DataFrame:
    """Per run: the layer of the largest mean change, and mean change in the middle third of the
    layers divided by that in the other layers (> 1: mostly in the middle)."""
    layers = by_layer(table, matrices, metric)
    mid = _middle(layers.shape[1])
    rest = [c for c in layers.columns if c not in mid]
    return pd.DataFrame({"peak_layer": layers.idxmax(axis=1),
                         "middle_layers": f"{mid[0]}-{mid[-1]}",
                         "middle_over_rest": layers[mid].mean(axis=1) / layers[rest].mean(axis=1)})


def ranking(table, metric: str = "rel_frobenius") -> pd.DataFrame:
    """run x rank (1 = largest mean change): the matrix types ordered by change."""
    m = by_matrix(table, metric)
    return pd.DataFrame([list(row.sort_values(ascending=False).index) for _, row in m.iterrows()],
                        index=m.index, columns=range(1, len(MATRICES) + 1))


def ratio(table, numerator: str, denominator: str, metric: str = "rel_frobenius") -> pd.Series:
    """Change of run ``numerator`` / run ``denominator`` at the end of training: per matrix type
    (mean over layers), 'all' (every matrix), and 'mid-layer MLP' vs 'other matrices'."""
    f = final(table, metric).set_index(["run", "layer", "matrix"])["value"]
    a, b = f.loc[numerator], f.loc[denominator]
    out = (a.groupby("matrix").mean() / b.groupby("matrix").mean())[list(MATRICES)]
    mid = _middle(a.index.get_level_values("layer").nunique())
    is_mid_mlp = a.index.map(lambda i: i[0] in mid and i[1] in MLP)
    out["all"] = a.mean() / b.mean()
    out["mid-layer MLP"] = a[is_mid_mlp].mean() / b[is_mid_mlp].mean()
    out["other matrices"] = a[~is_mid_mlp].mean() / b[~is_mid_mlp].mean()
    return out


# --- intervals of the ratio checks (claims 3 and 4): resample seeds, then layers or cells ---------

N_BOOT = 1000  # resamples of the seed-and-layer bootstrap


def final_grid(table, runs, metric: str = "rel_frobenius"):
    """runs x layers x matrices (:data:`MATRICES` order): each run's change at its last checkpoint."""
    import numpy as np

    f = final(table, metric)
    return np.stack([f[f.run == r].pivot_table(index="layer", columns="matrix", values="value")[list(MATRICES)]
                     .to_numpy() for r in runs])


def _percentiles(draws) -> tuple[float, float]:
    import numpy as np

    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    return (float("nan"), float("nan")) if not len(d) else tuple(float(v) for v in np.percentile(d, [2.5, 97.5]))


def middle_ratio_ci(table, runs, matrices=("q", "k"), n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float]:
    """Claim 3: the mean change of ``matrices`` in the middle third of the layers over that in the
    other layers, for a method's ``runs`` (its seeds, averaged), with a 95% interval from a
    bootstrap that resamples the seeds, then the layers within the middle third and within the rest."""
    import numpy as np

    grid = final_grid(table, runs)[:, :, [MATRICES.index(m) for m in matrices]].mean(2)  # runs x layers
    mid = np.array(_middle(grid.shape[1]))
    rest = np.setdiff1d(np.arange(grid.shape[1]), mid)
    mean = grid.mean(0)
    point = float(mean[mid].mean() / mean[rest].mean())
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        g = grid[rng.integers(0, len(runs), len(runs))].mean(0)
        draws.append(g[rng.choice(mid, len(mid))].mean() / g[rng.choice(rest, len(rest))].mean())
    return (point, *_percentiles(draws))


def mid_mlp_ratio_ci(table, sft_runs, grpo_runs, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float]:
    """Claim 4: SFT's change over GRPO's in the mid-layer MLPs, divided by the same ratio in the
    other matrices (> 1: SFT moves the mid-layer MLPs more than the rest, relative to GRPO), with a
    95% interval that resamples each method's seeds, then the (layer, matrix) cells within the
    mid-layer MLPs and within the rest (one cell draw for both methods)."""
    import numpy as np

    a, b = final_grid(table, sft_runs), final_grid(table, grpo_runs)
    mid = np.zeros(a.shape[1:], bool)
    mid[np.ix_(_middle(a.shape[1]), [MATRICES.index(m) for m in MLP])] = True
    cells_mid, cells_other = np.flatnonzero(mid), np.flatnonzero(~mid)

    def stat(x, y, cm, co):
        x, y = x.reshape(-1), y.reshape(-1)
        return (x[cm].mean() / y[cm].mean()) / (x[co].mean() / y[co].mean())

    point = float(stat(a.mean(0), b.mean(0), cells_mid, cells_other))
    rng = np.random.default_rng(seed)
    draws = [stat(a[rng.integers(0, len(a), len(a))].mean(0), b[rng.integers(0, len(b), len(b))].mean(0),
                  rng.choice(cells_mid, len(cells_mid)), rng.choice(cells_other, len(cells_other)))
             for _ in range(n_boot)]
    return (point, *_percentiles(draws))
