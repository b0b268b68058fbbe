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

Each is averaged over the query positions of a conversation, then over conversations. As in the
KL, the token prefix all conversations share (the authors' system prompt) runs once per model and
its rows, the same in every conversation, count once for each. The
models are loaded with eager attention (the only implementation that returns the weights); no
other lens changes. Batches are right-padded, so real queries never attend to padding (tested
equal to one conversation at a time and to a float64 oracle). Cached per (base, checkpoint, data).
"""

from __future__ import annotations

import copy
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
from .kl import KLError, _batches, encode, shared_prefix
from .spectra import pick

VERSION = 1  # bump when the definition or its computation changes (invalidates the cache)
MAX_TOKENS = 2048  # padded positions per batch: a layer's weights are batch x heads x T x T floats
MODELS_BYTES = 4 * 1024**3  # checkpoints held at once beside the base (tiny: all; 7B in bf16: one)
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


def _attentions(model, x, mask, prefix=None):
    """Every layer's attention weights (batch x heads x queries x keys); with ``prefix`` (a KV
    cache of the shared prefix) the queries are those of ``x`` and the keys the prefix's and x's."""
    if prefix is None:
        out = model(input_ids=x, attention_mask=mask, output_attentions=True)
    else:
        cache = copy.deepcopy(prefix)
        cache.batch_repeat_interleave(len(x))
        full = torch.cat([torch.ones(len(x), cache.get_seq_length(), dtype=mask.dtype, device=mask.device), mask], 1)
        out = model(input_ids=x, attention_mask=full, cache=cache, use_cache=True, output_attentions=True)
    return _weights(out)


def _weights(out):
    if not out.attentions or out.attentions[0] is None:
        raise KLError("the model returned no attention weights: load it with attn_implementation='eager'")
    return out.attentions


def _check_same(a_base, a_ft):
    if len(a_base) != len(a_ft) or a_base[0].shape != a_ft[0].shape:
        raise KLError(f"the models differ in layers or heads ({len(a_base)} x {a_base[0].shape[1]} vs "
                      f"{len(a_ft)} x {a_ft[0].shape[1]}): compare checkpoints of one architecture")


@torch.no_grad()
def shifts(base, models: list, ids: list[list[int]], batch_size: int = 16, pad_id: int = 0,
           dtype=torch.float32, progress: bool = False, device=None,
           max_tokens: int = MAX_TOKENS, share_prefix: bool = True) -> list[np.ndarray]:
    """For each of ``models``: (conversations, layers, heads, 3), :data:`STATS` averaged over each
    conversation's query positions 1..T-1, in input order. The base runs once per batch for all
    of them. With ``share_prefix`` the token prefix every conversation shares runs once per model
    (its rows are the same in every conversation) and its KV cache serves every batch, as in the
    KL. Every model must use eager attention."""
    device = device or next(base.parameters()).device
    n_pre = shared_prefix(ids) if share_prefix else 0
    caches, pre_sums = {}, {}
    if n_pre:  # rows 1..n_pre-1, the same in every conversation: their sums once
        pre = torch.tensor([ids[0][:n_pre]], device=device)
        run_b = base(input_ids=pre, use_cache=True, output_attentions=True)
        caches["base"] = run_b.cache
        for k, model in enumerate(models):
            run = model(input_ids=pre, use_cache=True, output_attentions=True)
            _check_same(_weights(run_b), _weights(run))
            caches[k] = run.cache
            pre_sums[k] = torch.stack([row_stats(p[0, :, 1:].to(dtype), q[0, :, 1:].to(dtype)).sum(1)
                                       for p, q in zip(run_b.attentions, run.attentions)])  # layers x heads x 3
    rest = [seq[n_pre:] for seq in ids]
    out = None
    for idx in tqdm(_batches(rest, batch_size, max_tokens), desc="attention", disable=not progress, leave=False):
        x, mask = right_pad([rest[i] for i in idx], pad_id, device)
        rows = mask.clone().to(dtype)
        if not n_pre:
            rows[:, 0] = 0  # position 0 attends to itself alone
        count = rows.sum(-1) + max(n_pre - 1, 0)  # query positions 1..T-1 of each conversation
        a_base = _attentions(base, x, mask, caches.get("base"))
        for k, model in enumerate(models):
            a_ft = _attentions(model, x, mask, caches.get(k))
            _check_same(a_base, a_ft)
            if out is None:
                out = [np.zeros((len(ids), len(a_base), a_base[0].shape[1], len(STATS))) for _ in models]
            for layer, (p, q) in enumerate(zip(a_base, a_ft)):
                s = torch.einsum("bhts,bt->bhs", row_stats(p.to(dtype), q.to(dtype)), rows)  # sums over rows
                if n_pre:
                    s = s + pre_sums[k][layer]
                out[k][idx, layer] = (s / count.clamp_min(1)[:, None, None]).double().cpu().numpy()
    if out is None:
        raise KLError("no conversations to compare attention on")
    return out


def shift_per_example(base, model, ids: list[list[int]], **kwargs) -> np.ndarray:
    """:func:`shifts` of one model: (conversations, layers, heads, 3)."""
    return shifts(base, [model], ids, **kwargs)[0]


def _groups(paths: list, budget: int) -> list[list]:
    """``paths`` in consecutive groups whose weights (safetensors bytes) fit ``budget`` together."""
    out, size = [[]], 0
    for p in paths:
        n = sum(f.stat().st_size for f in Path(p).glob("*.safetensors"))
        if out[-1] and size + n > budget:
            out.append([])
            size = 0
        out[-1].append(p)
        size += n
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
    """Per ``(label, folder)``: one row per layer x head (:data:`COLUMNS`). The base is loaded once
    and runs once per batch for as many checkpoints as fit :data:`MODELS_BYTES` together; on CUDA
    in bfloat16 (statistics in float32), on CPU in float32."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    ids = encode(tokenizer, conversations, template)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    store = cache.cache_dir("attention")
    base_digest = cache.checkpoint_digest(Path(base_path)) if use_cache else ""
    data_key = cache.key(ids, str(model_dtype))
    files = {path: (store / f"{cache.key('attention', VERSION, base_digest, cache.checkpoint_digest(Path(path)), data_key)}.json"
                    if use_cache else None) for _, path in checkpoints}  # no hashing when the cache is off
    means = {path: np.array(json.loads(f.read_text())["mean"], dtype=np.float64)
             for path, f in files.items() if f is not None and f.is_file()}
    todo = list(dict.fromkeys(path for _, path in checkpoints if path not in means))
    if todo:
        base = load_checked(base_path, model_dtype, device, attn_implementation="eager")
        for group in tqdm(_groups(todo, MODELS_BYTES), desc="attention", disable=not progress):
            models = [load_checked(p, model_dtype, device, attn_implementation="eager") for p in group]
            for path, per in zip(group, shifts(base, models, ids, batch_size, pad_id, progress=progress)):
                if not np.isfinite(per).all():
                    raise KLError(f"checkpoint {path}: the attention shift is not finite; its weights hold NaN/inf")
                means[path] = per.mean(0)
                if files[path] is not None:
                    files[path].write_text(json.dumps({"mean": means[path].tolist(), "n": len(per)}))
            del models
    parts = [_table(label, means[path][None]) for label, path in checkpoints]
    return pd.concat(parts, ignore_index=True)


def run_table(run_dirs, conversations, tokenizer, batch_size: int = 16, progress: bool = True,
              template: str | None = None, fractions=(1.0,)) -> pd.DataFrame:
    """The checkpoints nearest ``fractions`` of training (default: the last) of one run folder or a
    list of them, against each run's base, with ``run, step, fraction``. Runs whose bases hold the
    same weights (the seeds and methods of one study) share one pass of the base."""
    run_dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(d) for d in run_dirs]
    chosen = {d: pick(list_checkpoints(d), fractions) for d in run_dirs}
    bases = {d: list_checkpoints(d)[0]["path"] for d in run_dirs}
    by_base: dict = {}
    for d in run_dirs:
        by_base.setdefault(cache.checkpoint_digest(bases[d]), []).append(d)
    parts = []
    for members in by_base.values():
        todo = [(f"{d.name}/{e['path'].name}", e["path"]) for d in members for e in chosen[d]]
        table = compare(bases[members[0]], todo, conversations, tokenizer, batch_size, progress=progress,
                        template=template)
        for d in members:
            t = table[table.checkpoint.str.startswith(f"{d.name}/")]
            t = t.assign(checkpoint=t.checkpoint.str.split("/").str[-1])
            parts.append(t.merge(steps_table(chosen[d]), on="checkpoint").assign(run=d.name))
    return pd.concat(parts, ignore_index=True)
