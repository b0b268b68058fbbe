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
