"""The projection-matrix vocabulary of Llama/OLMo checkpoints, shared by training and every lens.

Parameter names follow Hugging Face Llama/OLMo: ``model.layers.{i}.self_attn.q_proj.weight``,
``model.layers.{i}.mlp.gate_proj.weight``. The paper compares the seven projections of every
layer (``MATRICES``); embeddings, ``lm_head`` and norms are left out (paper/ORIGINAL.md, "Metrics").
"""

from __future__ import annotations

import re

MATRICES = ("q", "k", "v", "o", "gate", "up", "down")
ATTENTION = ("q", "k", "v", "o")
MLP = ("gate", "up", "down")
_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")
_MATRIX_RE = re.compile(r"\.(q|k|v|o|gate|up|down)_proj\.")


def matrix_type(name: str) -> str:
    """``q``...``down`` for a projection; else ``embed``, ``lm_head``, ``norm`` or ``other``."""
    found = _MATRIX_RE.search(name)
    if found:
        return found.group(1)
    if "embed" in name:
        return "embed"
    if "lm_head" in name:
        return "lm_head"
    if "norm" in name:
        return "norm"
    return "other"


def layer_index(name: str) -> int | None:
    found = _LAYER_RE.search(name)
    return int(found.group(1)) if found else None


def weight_name(layer: int, matrix: str) -> str:
    """The HF parameter name of one projection: ``(3, "q")`` -> ``model.layers.3.self_attn.q_proj.weight``."""
    block = "self_attn" if matrix in ATTENTION else "mlp"
    return f"model.layers.{layer}.{block}.{matrix}_proj.weight"


def middle_third(n_layers: int) -> tuple[int, int]:
    """Inclusive (first, last) layers whose centre lies in the middle third: 8 -> (3, 4), 32 -> (11, 20).

    At least one layer: 2 layers -> (1, 1).
    """
    first, stop = round(n_layers / 3), round(2 * n_layers / 3)
    return first, max(first, stop - 1)
