"""Forward KL(base || checkpoint), teacher-forced on MATH-500 rendered as chat.

    scalpel kl BASE CKPT [CKPT ...] --data HuggingFaceH4/MATH-500 --out kl.csv
    per_example = kl.kl_per_example(base_model, model, ids)         # one value per conversation
    table = kl.run_kl(run_dir, conversations, tokenizer)              # a run: one value per checkpoint

Each conversation is [user: problem, assistant: reference solution] through a chat template:
by default the authors' (``template="authors"``: the system prompt injected, so the KL is
averaged over its tokens too, as the published curves were; paper/ORIGINAL.md, "What the
authors' code ran"), or OLMo-2's own (``"olmo"``), or the tokenizer's own (``None``). At every
real token position t,
    KL_t = sum_v p_base(v | x_<=t) (log p_base(v | x_<=t) - log p_ckpt(v | x_<=t)),
averaged over the conversation's real tokens (padding masked), then over conversations.
Batches are right-padded, so real tokens never attend to padding and keep their positions;
the result equals batch size 1 (the authors' setting) up to float rounding (tested).

The token prefix every conversation shares (with the authors' template: the system prompt, about
half of each MATH-500 conversation) is run once per model: its KV cache is reused by every batch
and its per-token KL, the same for every conversation, is computed once. Same positions, same
definition, about half the compute (tested equal to the unshared computation).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import cache, heartbeat
from ..batching import right_pad
from ..checkpoints import list_checkpoints, load_checked, steps_table
from ..config import ScalpelError
from ..data.prompts import TEMPLATES

VERSION = 3  # bump when the definition or its computation changes (invalidates the cache); 2: real rows only; 3: shared prefix
BASE_CACHE_BYTES = 2 * 1024**3  # keep the base's log-probs in memory across checkpoints below this size
MAX_TOKENS = 4096  # padded positions per batch: logits of 4096 x 100k vocabulary = 0.8 GB in bf16
ROWS = 256  # positions per softmax/KL step: bounds the float32 temporaries (256 x 100k x 4 B = 100 MB)


class KLError(ScalpelError, ValueError):
    """A KL that cannot be computed (mismatched vocabularies) or is not finite."""


def encode(tokenizer, conversations: list[list[dict]], template: str | None = None) -> list[list[int]]:
    """Token ids of each conversation after a chat template (its special tokens included):
    ``template`` names one of :data:`scalpel_core.data.prompts.TEMPLATES`, or ``None`` for the
    tokenizer's own."""
    if template is not None and template not in TEMPLATES:
        raise KLError(f"unknown KL template {template!r}; valid: {', '.join(TEMPLATES)} (or None: the tokenizer's own)")
    jinja = TEMPLATES.get(template)
    texts = [tokenizer.apply_chat_template(c, tokenize=False, chat_template=jinja) for c in conversations]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _batches(ids: list[list[int]], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Sequences sorted by length, grouped while the padded batch holds at most ``max_tokens``
    positions and ``batch_size`` sequences (little padding, bounded logits memory)."""
    batches, current = [], []
    for i in sorted(range(len(ids)), key=lambda i: len(ids[i])):
        if current and (len(current) == batch_size or (len(current) + 1) * len(ids[i]) > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    return batches + [current] if current else batches


def _real_logits(model, x, mask) -> torch.Tensor:
    """(real positions, vocabulary) logits: padding positions dropped before any softmax."""
    return model(input_ids=x, attention_mask=mask).logits[mask.bool()]


def token_kl(logp_base: torch.Tensor, logp_ft: torch.Tensor) -> torch.Tensor:
    """KL(base || ft) at every position: sum over the vocabulary (last dimension)."""
    return F.kl_div(logp_ft, logp_base, log_target=True, reduction="none").sum(-1)


def shared_prefix(ids: list[list[int]]) -> int:
    """The length of the token prefix every sequence shares, leaving each at least one token of
    its own; 0 when there is nothing worth sharing (under 2 tokens, or a single sequence)."""
    if len(ids) < 2:
        return 0
    n = min(len(os.path.commonprefix(ids)), min(map(len, ids)) - 1)
    return n if n >= 2 else 0


def _kl_rows(logits_base, logits_ft, dtype, base_rows=None):
    """Per-position KL of two (positions, vocabulary) logit tables, ``ROWS`` positions at a time;
    ``base_rows``: the base's log-probs already computed (then ``logits_base`` is None). Returns
    (KL per position, the base's log-probs when they were computed here, else None)."""
    width = base_rows.shape[-1] if base_rows is not None else logits_base.shape[-1]
    if logits_ft.shape[-1] != width:
        raise KLError(f"the vocabularies differ: base {width} logits, "
                      f"checkpoint {logits_ft.shape[-1]}; KL needs the same tokenizer")
    kl = torch.empty(len(logits_ft), dtype=dtype, device=logits_ft.device)
    parts = []
    for s in range(0, len(logits_ft), ROWS):
        if base_rows is not None:
            logp = base_rows[s: s + ROWS].to(logits_ft.device)
        else:
            logp = torch.log_softmax(logits_base[s: s + ROWS].to(dtype), dim=-1)
            parts.append(logp.cpu())
        kl[s: s + ROWS] = token_kl(logp, torch.log_softmax(logits_ft[s: s + ROWS].to(dtype), dim=-1))
    return kl, (torch.cat(parts) if parts else None)


def _prefixed(model, prefix_cache, x, mask):
    """Logits at the real positions of right-padded suffixes ``x`` that continue the shared prefix
    held in ``prefix_cache`` (a copy of it is grown to the batch; the original stays as it is)."""
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(len(x))
    full = torch.cat([torch.ones(len(x), cache.get_seq_length(), dtype=mask.dtype, device=mask.device), mask], 1)
    return model(input_ids=x, attention_mask=full, cache=cache, use_cache=True).logits[mask.bool()]


@torch.no_grad()
def kl_per_example(base, model, ids: list[list[int]], batch_size: int = 16, pad_id: int = 0,
                   dtype=torch.float32, base_cache: dict | None = None, progress: bool = False,
                   desc: str = "KL", device=None, max_tokens: int = MAX_TOKENS,
                   share_prefix: bool = True, starts: list[int] | None = None) -> np.ndarray:
    """Mean KL(base || model) over each sequence's tokens, in input order.

    Batches hold at most ``batch_size`` sequences and ``max_tokens`` padded positions; the
    softmax and the KL run on real positions only, ``ROWS`` at a time, in ``dtype``.
    ``base_cache`` (a dict, filled on first use) keeps the base's log-probs per batch, so
    scoring many checkpoints runs the base once; pass None to recompute them each time.
    With ``share_prefix`` the prefix every sequence shares (:func:`shared_prefix`) is run once.
    ``starts``: per sequence, the index of its first response token; the KL is then averaged over
    the positions that predict the response (``start - 1`` to the second-to-last token) only.
    """
    device = device or next(model.parameters()).device
    n_pre = shared_prefix(ids) if share_prefix else 0
    if starts is not None:
        if any(not 1 <= st < len(seq) for st, seq in zip(starts, ids, strict=True)):
            raise KLError("every response needs at least one token after a non-empty prompt")
        n_pre = min(n_pre, min(starts) - 1)  # the shared prefix stays inside every prompt
    out = np.zeros(len(ids), dtype=np.float64)
    caches = {}
    if n_pre:  # the shared prefix: once per model, its KL once for every sequence
        pre = torch.tensor([ids[0][:n_pre]], device=device)
        run = model(input_ids=pre, use_cache=True)
        cached = base_cache is not None and "prefix" in base_cache
        run_base = None if cached else base(input_ids=pre, use_cache=True)
        kl_pre, logp = _kl_rows(None if cached else run_base.logits[0], run.logits[0], dtype,
                                base_cache["prefix"] if cached else None)
        if base_cache is not None and not cached:
            base_cache["prefix"] = logp
        caches = {"ft": run.cache, "base": None if cached else run_base.cache}
        pre_sum = kl_pre.sum()
    rest = [seq[n_pre:] for seq in ids]
    for b, idx in enumerate(tqdm(_batches(rest, batch_size, max_tokens), desc=desc, disable=not progress,
                                 leave=False)):
        x, mask = right_pad([rest[i] for i in idx], pad_id, device)
        cached = base_cache is not None and b in base_cache

        def logits(m, key):
            return _prefixed(m, caches[key], x, mask) if n_pre else _real_logits(m, x, mask)

        if not cached and n_pre and caches["base"] is None:  # the base's prefix log-probs were cached, not its KV
            caches["base"] = base(input_ids=pre, use_cache=True).cache
        kl, logp = _kl_rows(None if cached else logits(base, "base"), logits(model, "ft"), dtype,
                            base_cache[b] if cached else None)
        if base_cache is not None and not cached:
            base_cache[b] = logp
        lengths = mask.sum(-1)
        row_of = torch.repeat_interleave(torch.arange(len(idx), device=device), lengths)
        pre = 0.0
        if starts is not None:  # response positions only (the prefix is prompt, never counted)
            at = torch.arange(x.shape[1], device=device)[None] + n_pre
            first = torch.tensor([starts[i] - 1 for i in idx], device=device)[:, None]
            last = torch.tensor([len(ids[i]) - 2 for i in idx], device=device)[:, None]
            keep = ((at >= first) & (at <= last))[mask.bool()].to(dtype)
            kl = kl * keep
            lengths = torch.zeros(len(idx), dtype=dtype, device=device).index_add_(0, row_of, keep)
        elif n_pre:  # every position counts, the shared prefix's too
            lengths, pre = lengths + n_pre, pre_sum
        sums = torch.zeros(len(idx), dtype=dtype, device=device).index_add_(0, row_of, kl) + pre
        out[idx] = (sums / lengths).double().cpu().numpy()
    return out


def curve(base_path, checkpoints: list[tuple[str, Path]], conversations: list[list[dict]], tokenizer,
          batch_size: int = 16, device: str | None = None, use_cache: bool = True,
          progress: bool = True, template: str | None = None) -> pd.DataFrame:
    """KL(base || checkpoint) for each ``(label, folder)``: columns ``checkpoint, kl, n``.

    Loads the base once and one checkpoint at a time. On CUDA models run in bfloat16 and the
    softmax in float32; on CPU everything is float32. Results are cached per (base,
    checkpoint, data) content hash. ``template``: the chat rendering (:func:`encode`).
    """
    return _curve(base_path, checkpoints, encode(tokenizer, conversations, template), tokenizer, batch_size,
                  device, use_cache, progress)


def response_curve(base_path, checkpoints: list[tuple[str, Path]], prompts: list[list[dict]], responses: list[str],
                   tokenizer, batch_size: int = 16, device: str | None = None, use_cache: bool = True,
                   progress: bool = True) -> pd.DataFrame:
    """KL(base || checkpoint) per token of given responses (e.g. sampled from the base) to chat
    ``prompts`` (the tokenizer's own template): the forward KL over the base's own outputs of
    Shenfeld et al. 2025 ("RL's Razor"). Same columns and caching as :func:`curve`."""
    heads = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    head_ids = tokenizer(heads, add_special_tokens=False)["input_ids"]
    tail_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    ids = [h + t for h, t in zip(head_ids, tail_ids, strict=True)]
    return _curve(base_path, checkpoints, ids, tokenizer, batch_size, device, use_cache, progress,
                  starts=[len(h) for h in head_ids])


def _curve(base_path, checkpoints, ids, tokenizer, batch_size, device, use_cache, progress, starts=None):
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    store = cache.cache_dir("kl")
    base_digest = cache.checkpoint_digest(Path(base_path)) if use_cache else ""
    data_key = cache.key(ids, str(model_dtype)) if starts is None else cache.key(ids, str(model_dtype), starts)
    base, base_logps = None, None
    fits = sum(map(len, ids)) * len(tokenizer) * 4 < BASE_CACHE_BYTES
    rows = []
    for i, (label, path) in enumerate(tqdm(checkpoints, desc="KL per checkpoint", disable=not progress), 1):
        heartbeat.beat(f"KL {i}/{len(checkpoints)}: {label}")
        digest = cache.checkpoint_digest(Path(path)) if use_cache else None  # no hashing when the cache is off
        file = store / f"{cache.key('kl', VERSION, base_digest, digest, data_key)}.json" if use_cache else None
        if file is not None and file.is_file():
            per = np.array(json.loads(file.read_text())["per_example"], dtype=np.float64)
        elif use_cache and digest == base_digest:
            per = np.zeros(len(ids))  # the base's own weights (a run's step 0): KL(p || p) = 0 exactly
        else:
            if base is None:
                base = load_checked(base_path, model_dtype, device)
                base_logps = {} if fits else None
            model = load_checked(path, model_dtype, device)
            per = kl_per_example(base, model, ids, batch_size, pad_id, torch.float32, base_logps, starts=starts)
            del model
            bad = np.flatnonzero(~np.isfinite(per))
            if len(bad):  # never cached, never averaged
                raise KLError(f"checkpoint {path}: the KL is not finite on {len(bad)} of {len(per)} "
                              f"conversations (first: #{bad[0]}); its weights or logits hold NaN/inf")
            if file is not None:
                file.write_text(json.dumps({"per_example": per.tolist()}))
        rows.append({"checkpoint": label, "kl": float(per.mean()), "n": len(per)})
    return pd.DataFrame(rows)


def run_kl(run_dir: Path, conversations, tokenizer, batch_size: int = 16, progress: bool = True,
           template: str | None = None) -> pd.DataFrame:
    """One KL per checkpoint of a run, the base itself (step 0) included: ``run, step, fraction, kl``."""
    entries = list_checkpoints(run_dir)
    table = curve(entries[0]["path"], [(e["path"].name, e["path"]) for e in entries], conversations,
                  tokenizer, batch_size, progress=progress, template=template)
    table = table.merge(steps_table(entries), on="checkpoint").assign(run=Path(run_dir).name)
    return table[["run", "checkpoint", "step", "fraction", "kl", "n"]]
