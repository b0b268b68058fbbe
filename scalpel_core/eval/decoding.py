"""Fast batched decoding for any Hugging Face causal LM whose attention goes through transformers'
attention interface (Llama, OLMo-2, Qwen2, Mistral, ...): greedy and seeded sampling.

Why not ``model.generate``: on a CPU its per-step cost is the dynamic KV cache (concatenated at every
step, 64% of the time at batch 256) and attention over every row's copy of the shared system prompt.
The static cache with ``torch.compile`` and transformers' continuous batching were measured and fall
short on CPU (benchmarks/README.md, "Decoding, training steps and the plan"). This module keeps the model's own forward and adds:

* a **shared prefix prefilled once**: the token prefix common to every prompt of the call (the system
  prompt) runs once at batch 1, and every row attends to that one copy (cascade attention: the
  prefix's and the row's scores share one softmax);
* a **preallocated per-row KV buffer** written in place (no concatenation);
* **finished rows retired**: the batch is compacted when a quarter of its rows are done;
* sampling: each prompt's own tokens are prefilled once and its KV repeated for its ``n`` samples.

Greedy completions equal ``model.generate``'s (tests/test_decoding.py compares them on the smoke and
tiny bases); sampling is reproducible from ``seed``.
"""

from __future__ import annotations

import math
import os

import torch
from tqdm.auto import tqdm
from transformers import AttentionInterface
from transformers.cache_utils import Cache, DynamicLayer
from transformers.generation.logits_process import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper
from transformers.masking_utils import AttentionMaskInterface

from .. import heartbeat

IMPL = "scalpel_cascade"
RETIRE = 0.75  # compact the batch when at most this share of its rows is still unfinished
_ACTIVE: list = []  # the cache of the call in progress (the attention function reads it; one call
#                     at a time per process)


class _Layer(DynamicLayer):
    """One layer's KV: the shared prefix ``(1, H, P, D)`` and a per-row buffer ``(B, H, cap, D)``."""

    def __init__(self):
        super().__init__()
        self.prefix_k = self.prefix_v = None
        self.buf_k = self.buf_v = None
        self.length = 0

    def update(self, key_states, value_states, *args, **kwargs):
        if self.buf_k is None:  # prefix pass: batch 1, kept whole
            self.prefix_k, self.prefix_v = key_states, value_states
            self.is_initialized = True
            return key_states, value_states
        n = key_states.shape[-2]
        self.buf_k[:, :, self.length: self.length + n] = key_states
        self.buf_v[:, :, self.length: self.length + n] = value_states
        self.length += n
        self.keys, self.values = self.buf_k[:, :, : self.length], self.buf_v[:, :, : self.length]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return (0 if self.prefix_k is None else self.prefix_k.shape[-2]) + self.length


class PrefixCache(Cache):
    """KV cache of one decoding call: a shared prefix, then per-row buffers (see :class:`_Layer`).

    ``bias`` is ``(B, cap)``: 0 where a buffer position holds a real token, -inf on a row's padding.
    """

    def __init__(self, n_layers: int):
        super().__init__(layers=[_Layer() for _ in range(n_layers)])
        self.bias: torch.Tensor | None = None

    def open_rows(self, batch: int, capacity: int) -> None:
        """Allocate the per-row buffers after the prefix pass (the prefix is broadcast to every row)."""
        for layer in self.layers:
            pk = layer.prefix_k
            shape = (batch, pk.shape[1], capacity, pk.shape[3])
            layer.buf_k = pk.new_empty(shape)
            layer.buf_v = pk.new_empty(shape)
            layer.length = 0
        # additive attention bias of each buffer position: 0 for a real token, -inf for padding
        self.bias = pk.new_zeros(batch, capacity)

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices, or a repeat pattern) of every per-row buffer, compacted."""
        for layer in self.layers:  # only the filled part of each buffer is copied
            n = layer.length
            for name in ("buf_k", "buf_v"):
                old = getattr(layer, name)
                new = old.new_empty((rows.numel(), *old.shape[1:]))
                new[:, :, :n] = old[:, :, :n].index_select(0, rows)
                setattr(layer, name, new)
        self.bias = self.bias.index_select(0, rows)


def _cascade_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention over [shared prefix | the row's own tokens] with one softmax. ``query`` is
    ``(B, H, q, D)``; ``key``/``value`` are the row buffers the cache returned."""
    cache: PrefixCache = _ACTIVE[-1]
    layer = cache.layers[module.layer_idx]
    b, h, q, d = query.shape
    scaling = scaling if scaling is not None else 1 / math.sqrt(d)
    pk, pv = layer.prefix_k, layer.prefix_v
    if layer.buf_k is None:  # the prefix pass itself: plain causal attention at batch 1
        out = torch.nn.functional.scaled_dot_product_attention(query, _rep(key, h), _rep(value, h),
                                                               is_causal=q > 1, scale=scaling)
        return out.transpose(1, 2).contiguous(), None
    hk = pk.shape[1]
    g = h // hk
    qg = query.contiguous().reshape(b, hk, g * q, d)  # grouped-query heads share their KV head
    # prefix scores: one GEMM per KV head over all rows, reading the prefix once
    sp = torch.matmul(qg.transpose(0, 1).reshape(hk, b * g * q, d), pk[0].transpose(-1, -2))
    sp = sp.reshape(hk, b, g * q, -1).transpose(0, 1)  # (B, hk, g*q, P)
    sr = torch.matmul(qg, key.transpose(-1, -2))  # (B, hk, g*q, L)
    length = key.shape[-2]
    scores = torch.cat([sp, sr], dim=-1)
    if scores.dtype != torch.float32:  # bf16/fp16 models: the softmax in float32, as sdpa's kernels do
        scores = scores.float()
    scores *= scaling
    scores[..., sp.shape[-1]:] += cache.bias[:, None, None, :length]
    if q > 1:  # prefilling the rows' own tokens: causal within the new segment
        pos = torch.arange(length, device=query.device)
        future = pos[None, :] > torch.arange(length - q, length, device=query.device)[:, None]  # (q, L)
        scores[..., sp.shape[-1]:].masked_fill_(future.repeat(g, 1)[None, None], float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    p = sp.shape[-1]
    out = torch.matmul(probs[..., p:], value)  # (B, hk, g*q, D)
    out += torch.matmul(probs[..., :p].transpose(0, 1).reshape(hk, b * g * q, p), pv[0]).reshape(
        hk, b, g * q, d).transpose(0, 1)
    out = out.reshape(b, h, q, d)
    return out.transpose(1, 2).contiguous(), None


def _rep(x, h):
    return x if x.shape[1] == h else x.repeat_interleave(h // x.shape[1], dim=1)


def _no_mask(*args, **kwargs):
    return None


AttentionInterface.register(IMPL, _cascade_attention)
AttentionMaskInterface.register(IMPL, _no_mask)


class _Impl:
    """For the duration of a call: the cascade attention, and eval mode (a training model may drop
    the cache, under gradient checkpointing)."""

    def __init__(self, model):
        self.model, self.config = model, model.config

    def __enter__(self):
        self.old, self.training = self.config._attn_implementation, self.model.training
        self.config._attn_implementation = IMPL
        self.model.eval()
        return self

    def __exit__(self, *exc):
        self.config._attn_implementation = self.old
        self.model.train(self.training)
        _ACTIVE.clear()


def _sampler(greedy: bool, temperature: float, top_p: float, gen: torch.Generator | None):
    """The next-token rule: argmax, or a draw after transformers' own temperature and top-p warpers
    (as ``model.generate(do_sample=True)`` applies them)."""
    if greedy:
        return lambda logits: logits.argmax(-1)
    warpers = LogitsProcessorList([TemperatureLogitsWarper(float(temperature))])
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(float(top_p)))

    def draw(logits):
        probs = torch.softmax(warpers(None, logits.float()), -1)
        return torch.multinomial(probs, 1, generator=gen).squeeze(-1)
    return draw


def supported(model) -> bool:
    """Whether ``model`` can take the fast path: a decoder-only transformers model whose attention
    goes through the attention interface, with full (not sliding-window or linear) attention."""
    config = getattr(model, "config", None)
    if config is None or not getattr(type(model), "_supports_attention_backend", False):
        return False
    text = config.get_text_config(decoder=True)
    if getattr(config, "is_encoder_decoder", False) or text is not config:
        return False
    if getattr(text, "attn_logit_softcapping", None) or getattr(text, "use_alibi", False):
        return False  # attention the cascade does not compute (Gemma-2's soft cap, ALiBi)
    types = getattr(text, "layer_types", None)
    if types is not None:
        return set(types) == {"full_attention"}
    return not getattr(text, "sliding_window", None)


@torch.no_grad()
def decode_ids(model, prompts: list[list[int]], max_new_tokens: int, eos_token_ids, *, n: int = 1,
               greedy: bool = True, temperature: float = 1.0, top_p: float = 1.0, seed: int | None = 0,
               batch_size: int = 512, progress: bool = False, desc: str = "decoding") -> list[list[list[int]]]:
    """New token ids for each prompt (token-id lists): ``n`` completions per prompt, each ending with
    its end-of-sequence token when one was produced within ``max_new_tokens``.

    Prompts are sorted by length and decoded ``batch_size`` rows at a time (``n`` rows per prompt).
    Sampling draws from ``torch.Generator().manual_seed(seed)``; ``seed=None`` draws from torch's
    global generator instead (a trainer's seeded, checkpointed stream).
    """
    if not greedy and temperature <= 0:
        raise ValueError(f"temperature must be > 0 for sampling, got {temperature}")
    eos = torch.tensor(sorted(set([eos_token_ids] if isinstance(eos_token_ids, int) else eos_token_ids)))
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[list[int]]] = [[] for _ in prompts]
    per = max(1, batch_size // n)
    gen = None if seed is None else torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    pick = _sampler(greedy, temperature, top_p, gen)
    bar = _Bars(tqdm(total=len(prompts) * n, desc=desc, disable=not progress, unit="seq"),
                heartbeat.Ticker(desc, len(prompts) * n, " seq"))  # the terminal hears of a long decode
    with _Impl(model):
        for s in range(0, len(order), per):
            idx = order[s: s + per]
            for i, rows in zip(idx, _decode_chunk(model, [prompts[i] for i in idx], max_new_tokens, eos, n,
                                                  pick, bar)):
                out[i] = rows
    bar.close()
    return out


class _Bars:
    """A notebook's bar and the runner's heartbeat, updated together."""

    def __init__(self, bar, ticker):
        self.bar, self.ticker = bar, ticker

    def update(self, k: int) -> None:
        self.bar.update(k)
        self.ticker.update(k)

    def close(self) -> None:
        self.bar.close()


def _decode_chunk(model, prompts, max_new_tokens, eos, n, pick, bar):
    device = next(model.parameters()).device
    eos = eos.to(device)
    prefix = os.path.commonprefix(prompts)
    prefix = prefix[: min(len(p) for p in prompts) - 1]  # every row keeps at least one own token
    if not prefix:
        raise ValueError("fast decoding needs a shared first token (a BOS token); use model.generate")
    p = len(prefix)
    suffix = [x[p:] for x in prompts]
    width = max(len(x) for x in suffix)
    cache = PrefixCache(model.config.get_text_config(decoder=True).num_hidden_layers)
    _ACTIVE[:] = [cache]
    model(input_ids=torch.tensor([prefix], device=device), cache=cache, use_cache=True)
    b = len(prompts)
    cache.open_rows(b, width + max_new_tokens)
    # each row's own tokens end at the segment's last column (padding before them is masked), so
    # only the last position's logits are computed
    ids = torch.zeros((b, width), dtype=torch.long, device=device)
    lens = torch.tensor([len(x) for x in suffix], device=device)
    for r, x in enumerate(suffix):
        ids[r, width - len(x):] = torch.tensor(x)
    col = torch.arange(width, device=device)[None]
    pad = col < (width - lens)[:, None]
    cache.bias[:, :width].masked_fill_(pad, float("-inf"))
    pos = (p + col - (width - lens)[:, None]).clamp(min=p)  # a real token's position counts real tokens only
    last = model(input_ids=ids, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
    if n > 1:  # each prompt's KV repeated for its samples
        rep = torch.arange(b, device=device).repeat_interleave(n)
        cache.select(rep)
        last, lens = last[rep], lens[rep]
    rows = torch.arange(b * n, device=device)  # original row of each live row
    alive = torch.ones(b * n, dtype=torch.bool, device=device)  # live rows not yet finished
    tokens: list[list[int]] = [[] for _ in range(b * n)]
    for t in range(max_new_tokens):
        nxt = pick(last)
        for r, tok, a in zip(rows.tolist(), nxt.tolist(), alive.tolist()):
            if a:
                tokens[r].append(tok)
        finished = torch.isin(nxt, eos) & alive
        n_finished = int(finished.sum())
        if n_finished:
            bar.update(n_finished)
            alive &= ~finished
            n_alive = int(alive.sum())
            if n_alive == 0:
                break
            if n_alive <= RETIRE * alive.numel():  # retire the finished rows: compact the batch
                keep = alive.nonzero().squeeze(-1)
                cache.select(keep)
                rows, nxt, lens, alive = rows[keep], nxt[keep], lens[keep], alive[keep]
        if t == max_new_tokens - 1:
            break
        pos = (p + lens + t)[:, None]
        last = model(input_ids=nxt[:, None], position_ids=pos, cache=cache, use_cache=True).logits[:, -1]
    bar.update(int(alive.sum()))
    return [tokens[i * n: (i + 1) * n] for i in range(b)]
