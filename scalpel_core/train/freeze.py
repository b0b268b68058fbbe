"""Trainable-parameter specs: which weights a run may change (the paper's freeze ablation).

    from scalpel_core.train.freeze import apply_spec
    table = apply_spec(model, "attention")   # freezes the rest, returns counts per matrix type

Specs (config field ``trainable``):

- ``all``: every parameter trains (the main runs);
- ``attention``: only q_proj, k_proj, v_proj and o_proj train ("freeze all but attention");
- ``qk``: only q_proj and k_proj train (the paper's text for ablation b; paper/ORIGINAL.md,
  "Freeze ablation");
- ``qk+lm_head``: q_proj, k_proj and the (untied) ``lm_head`` train: ablation b as the authors'
  code ran it, which froze ``model.model`` only (paper/ORIGINAL.md, "What the authors' code ran");
- ``frozen-mid-mlp``: everything trains except gate/up/down of a layer range, by default
  the middle third (paper/ORIGINAL.md, "Freeze ablation", a: layers 19-25 of 32).

Parameter names follow Hugging Face Llama/OLMo: ``model.layers.{i}.self_attn.q_proj.weight``.
"""

from __future__ import annotations

import re

import pandas as pd

from ..arch import MATRICES, layer_index, matrix_type, middle_third
from ..config import TRAINABLE as SPECS
from ..config import ScalpelError


class SpecError(ScalpelError, ValueError):
    """A trainable spec that is unknown, malformed or matches nothing in the model."""


def parse_layers(text: str, n_layers: int) -> tuple[int, int]:
    """``"a-b"`` (inclusive) or ``""`` for the middle third; checked against ``n_layers``."""
    if not text:
        return middle_third(n_layers)
    found = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not found:
        raise SpecError(f"frozen_layers must look like 'first-last' (e.g. '19-25'), got {text!r}")
    first, last = int(found.group(1)), int(found.group(2))
    if not 0 <= first <= last < n_layers:
        raise SpecError(f"frozen_layers {text!r} is outside the model's layers 0-{n_layers - 1}")
    return first, last


# The matrix types each spec is about: the only ones that train (attention, qk), or the ones
# frozen in the layer range (frozen-mid-mlp). `all` targets nothing: everything trains.
TARGETS = {"all": (), "attention": ("q", "k", "v", "o"), "qk": ("q", "k"), "qk+lm_head": ("q", "k", "lm_head"),
           "frozen-mid-mlp": ("gate", "up", "down")}


def is_trainable(name: str, spec: str, layers: tuple[int, int]) -> bool:
    if spec not in TARGETS:
        raise SpecError(f"unknown trainable spec {spec!r}; valid specs: {', '.join(SPECS)}")
    kind = matrix_type(name)
    if spec == "all":
        return True
    if spec == "frozen-mid-mlp":
        layer = layer_index(name)
        return not (kind in TARGETS[spec] and layer is not None and layers[0] <= layer <= layers[1])
    return kind in TARGETS[spec]


def apply_spec(model, spec: str, frozen_layers: str = "") -> pd.DataFrame:
    """Set ``requires_grad`` by ``spec`` and return trainable/frozen counts per matrix type.

    Raises :class:`SpecError` if the spec is unknown or leaves nothing trainable, or if
    the parameters it targets (projections, or the frozen MLP layers) do not exist.
    """
    if spec not in SPECS:
        raise SpecError(f"unknown trainable spec {spec!r}; valid specs: {', '.join(SPECS)}")
    named = list(model.named_parameters())
    n_layers = 1 + max((layer_index(n) for n, _ in named if layer_index(n) is not None), default=-1)
    layers = parse_layers(frozen_layers, n_layers) if spec == "frozen-mid-mlp" else (0, -1)
    rows = {}
    for name, param in named:
        trainable = is_trainable(name, spec, layers)
        param.requires_grad_(trainable)
        row = rows.setdefault(matrix_type(name), {"trainable": 0, "frozen": 0})
        row["trainable" if trainable else "frozen"] += param.numel()
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("matrix")
    order = [m for m in (*MATRICES, "embed", "norm", "lm_head", "other") if m in table.index]
    table = table.loc[order]
    table.loc["total"] = table.sum()
    table["trainable_share"] = (table["trainable"] / (table["trainable"] + table["frozen"])).round(4)
    if spec != "all":
        targeted = TARGETS[spec]
        column = "frozen" if spec == "frozen-mid-mlp" else "trainable"
        if all(m not in table.index or table.loc[m, column] == 0 for m in targeted):
            raise SpecError(f"trainable spec {spec!r} matches no parameter of this model: no "
                            f"{'/'.join(t if t == 'lm_head' else t + '_proj' for t in targeted)} weights in layers.N "
                            f"(names seen: {', '.join(n for n, _ in named[:3])}, ...)")
    if table.loc["total", "trainable"] == 0:
        raise SpecError(f"trainable spec {spec!r} leaves no parameter trainable")
    return table
