"""Does the model attend elsewhere? Per layer x head, how far each checkpoint's attention moved.

    shift = attention.shift_per_example(base_model, model, ids)       # (problems, layers, heads, 3)
    table = attention.compare(base_dir, [(label, ckpt_dir)], conversations, tokenizer)
    table = attention.run_table(run_dir, conversations, tokenizer)     # a run's final checkpoint

Teacher-forced on MATH-500 rendered as chat, exactly as for the KL (:mod:`scalpel_core.lenses.kl`,
same template). For every layer l, head h and real query position t >= 1 of a conversation
(position 0 attends only to itself), with p = the base's attention row and q = the checkpoint's
(both over the causal keys 0..t):

- ``jsd``: the Jensen-Shannon divergence JS(p, q) = KL(p || m)/2 + KL(q || m)/2, m = (p + q)/2,
  in bits (between 0 and 1);
- ``entropy_base``, ``entropy_ckpt``: the entropy of p and of q, in nats;
- ``entropy_change``: entropy_ckpt - entropy_base.

Each is averaged over the query positions of a conversation, then over conversations. The
models are loaded with eager attention (the only implementation that returns the weights); no
other lens changes. Batches are right-padded, so real queries never attend to padding (tested
equal to one conversation at a time and to a float64 oracle). Cached per (base, checkpoint, data).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import cache
from ..batching import right_pad
from ..checkpoints import list_checkpoints, load_checked, steps_table
from .kl import KLError, _batches, encode
from .spectra import pick

VERSION = 1  # bump when the definition or its computation changes (invalidates the cache)
MAX_TOKENS = 2048  # padded positions per batch: a layer's weights are batch x heads x T x T floats
STATS = ("jsd", "entropy_base", "entropy_ckpt")
COLUMNS = ["checkpoint", "layer", "head", "jsd", "entropy_base", "entropy_ckpt", "entropy_change"]


def _xlogy(x: torch.Tensor) -> torch.Tensor:
    return torch.special.xlogy(x, x)


def row_stats(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """(..., 3): JS divergence (bits), entropy of p, entropy of q (nats) of attention rows (last dim)."""
    m = 0.5 * (p + q)
    log_m = torch.log(m.clamp_min(torch.finfo(m.dtype).tiny))
    kl_pm = (_xlogy(p) - p * log_m).sum(-1)
    kl_qm = (_xlogy(q) - q * log_m).sum(-1)
    jsd = (0.5 * (kl_pm + kl_qm)).clamp_min(0) / math.log(2)
    return torch.stack([jsd, -_xlogy(p).sum(-1), -_xlogy(q).sum(-1)], -1)


def _attentions(model, x, mask):
    out = model(input_ids=x, attention_mask=mask, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise KLError("the model returned no attention weights: load it with attn_implementation='eager'")
    return out.attentions


@torch.no_grad()
def shift_per_example(base, model, ids: list[list[int]], batch_size: int = 16, pad_id: int = 0,
                      dtype=torch.float32, progress: bool = False, device=None,
                      max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """(conversations, layers, heads, 3): :data:`STATS` averaged over each conversation's query
    positions 1..T-1, in input order. Both models must use eager attention."""
    device = device or next(model.parameters()).device
    out = None
    for idx in tqdm(_batches(ids, batch_size, max_tokens), desc="attention", disable=not progress, leave=False):
        x, mask = right_pad([ids[i] for i in idx], pad_id, device)
        rows = mask.clone()
        rows[:, 0] = 0  # position 0 attends to itself alone
        weight = rows.to(dtype) / rows.sum(-1, keepdim=True).clamp_min(1).to(dtype)  # mean over query positions
        a_base, a_ft = _attentions(base, x, mask), _attentions(model, x, mask)
        if len(a_base) != len(a_ft) or a_base[0].shape != a_ft[0].shape:
            raise KLError(f"the models differ in layers or heads ({len(a_base)} x {a_base[0].shape[1]} vs "
                          f"{len(a_ft)} x {a_ft[0].shape[1]}): compare checkpoints of one architecture")
        if out is None:
            out = np.zeros((len(ids), len(a_base), a_base[0].shape[1], len(STATS)))
        for layer, (p, q) in enumerate(zip(a_base, a_ft)):
            s = row_stats(p.to(dtype), q.to(dtype))  # batch x heads x T x 3
            out[idx, layer] = torch.einsum("bhts,bt->bhs", s, weight).double().cpu().numpy()
    if out is None:
        raise KLError("no conversations to compare attention on")
    return out


def _table(label: str, per: np.ndarray) -> pd.DataFrame:
    mean = per.mean(0)  # over conversations
    layers, heads = np.meshgrid(range(mean.shape[0]), range(mean.shape[1]), indexing="ij")
    t = pd.DataFrame({"checkpoint": label, "layer": layers.ravel(), "head": heads.ravel(),
                      **{k: mean[..., i].ravel() for i, k in enumerate(STATS)}})
    return t.assign(entropy_change=t.entropy_ckpt - t.entropy_base)[COLUMNS]


def compare(base_path, checkpoints: list[tuple[str, Path]], conversations: list[list[dict]], tokenizer,
            batch_size: int = 16, device: str | None = None, use_cache: bool = True, progress: bool = True,
            template: str | None = None) -> pd.DataFrame:
    """Per ``(label, folder)``: one row per layer x head (:data:`COLUMNS`). The base is loaded once,
    the checkpoints one at a time; on CUDA in bfloat16 (statistics in float32), on CPU in float32."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    ids = encode(tokenizer, conversations, template)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    store = cache.cache_dir("attention")
    base_digest = cache.checkpoint_digest(Path(base_path)) if use_cache else ""
    data_key = cache.key(ids, str(model_dtype))
    base, parts = None, []
    for label, path in tqdm(checkpoints, desc="attention per checkpoint", disable=not progress):
        file = (store / f"{cache.key('attention', VERSION, base_digest, cache.checkpoint_digest(Path(path)), data_key)}.json"
                if use_cache else None)
        if file is not None and file.is_file():
            per = np.array(json.loads(file.read_text())["mean"], dtype=np.float64)[None]
        else:
            if base is None:
                base = load_checked(base_path, model_dtype, device, attn_implementation="eager")
            model = load_checked(path, model_dtype, device, attn_implementation="eager")
            per = shift_per_example(base, model, ids, batch_size, pad_id, progress=False)
            del model
            if not np.isfinite(per).all():
                raise KLError(f"checkpoint {path}: the attention shift is not finite; its weights hold NaN/inf")
            if file is not None:
                file.write_text(json.dumps({"mean": per.mean(0).tolist(), "n": len(per)}))
        parts.append(_table(label, per))
    return pd.concat(parts, ignore_index=True)


def run_table(run_dir: Path, conversations, tokenizer, batch_size: int = 16, progress: bool = True,
              template: str | None = None, fractions=(1.0,)) -> pd.DataFrame:
    """The checkpoints of a run nearest ``fractions`` of training (default: the last) against its
    base, with ``run, step, fraction``."""
    entries = list_checkpoints(run_dir)
    chosen = pick(entries, fractions)
    table = compare(entries[0]["path"], [(e["path"].name, e["path"]) for e in chosen], conversations, tokenizer,
                    batch_size, progress=progress, template=template)
    return table.merge(steps_table(chosen), on="checkpoint").assign(run=Path(run_dir).name)
