"""Batched greedy generation, seeded sampling, and option log-likelihoods for any HF causal LM with a
chat template.

:func:`generate` and :func:`sample` decode with :mod:`scalpel_core.eval.decoding` (a shared prefix
prefilled once, in-place KV buffers, finished rows retired) where the model supports it, and with
``model.generate`` otherwise (:func:`generate_plain`, also the benchmarks' baseline).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..batching import right_pad
from . import decoding


def _chat_texts(tokenizer, prompts: list[list[dict]]) -> list[str]:
    return [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]


def _prompt_texts(tokenizer, prompts, prefixes):
    texts = _chat_texts(tokenizer, prompts)
    if prefixes is not None:
        texts = [t + p for t, p in zip(texts, prefixes, strict=True)]
    return texts


def _fast(model, tokenizer, texts, max_new_tokens, batch_size, progress, desc, **kw) -> list[list[str]] | None:
    if not decoding.supported(model):
        return None
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    if min(len(x) for x in ids) < 2 or len({x[0] for x in ids}) > 1:
        return None  # no shared first token to prefill once
    out = decoding.decode_ids(model, ids, max_new_tokens, tokenizer.eos_token_id, batch_size=batch_size,
                              progress=progress, desc=desc, **kw)
    return [[tokenizer.decode(c, skip_special_tokens=True) for c in row] for row in out]


@torch.no_grad()
def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 512,
             progress: bool = False, desc: str = "generating", prefixes: list[str] | None = None) -> list[str]:
    """Greedy completions of chat ``prompts`` (lists of messages), in input order; ``batch_size``
    sequences at once. ``prefixes`` prefill the start of each assistant reply; the completion
    excludes them. The same completions as :func:`generate_plain` (tests/test_decoding.py)."""
    if not prompts:
        return []
    texts = _prompt_texts(tokenizer, prompts, prefixes)
    fast = _fast(model, tokenizer, texts, max_new_tokens, batch_size, progress, desc)
    if fast is not None:
        return [row[0] for row in fast]
    return generate_plain(model, tokenizer, prompts, max_new_tokens, min(batch_size, 64), progress, desc, prefixes)


@torch.no_grad()
def sample(model, tokenizer, prompts: list[list[dict]], n: int, max_new_tokens: int, temperature: float = 1.0,
           top_p: float = 1.0, seed: int = 0, batch_size: int = 512, progress: bool = False,
           desc: str = "sampling") -> list[list[str]]:
    """``n`` sampled completions per chat prompt, reproducible from ``seed`` (same inputs, same
    ``batch_size``). Each prompt is prefilled once and its KV shared by its ``n`` samples."""
    if not prompts:
        return []
    texts = _chat_texts(tokenizer, prompts)
    fast = _fast(model, tokenizer, texts, max_new_tokens, batch_size, progress, desc, n=n, greedy=False,
                 temperature=temperature, top_p=top_p, seed=seed)
    if fast is not None:
        return fast
    torch.manual_seed(seed)
    flat = generate_plain(model, tokenizer, [p for p in prompts for _ in range(n)], max_new_tokens,
                          min(batch_size, 64), progress, desc, do_sample=True, temperature=temperature, top_p=top_p)
    return [flat[i * n: (i + 1) * n] for i in range(len(prompts))]


@torch.no_grad()
def generate_plain(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 64,
                   progress: bool = False, desc: str = "generating", prefixes: list[str] | None = None,
                   **generate_kwargs) -> list[str]:
    """Completions from ``model.generate`` (greedy unless ``generate_kwargs`` say otherwise), left-padded
    batches of prompts of similar length, in input order."""
    texts = _prompt_texts(tokenizer, prompts, prefixes)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
    out: list[str] = [""] * len(texts)
    device = next(model.parameters()).device
    kwargs = {"do_sample": False} | generate_kwargs
    for s in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress):
        idx = order[s: s + batch_size]
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id, **kwargs)
        new = gen[:, enc["input_ids"].shape[1]:]
        for i, row in zip(idx, new):
            out[i] = tokenizer.decode(row, skip_special_tokens=True)
    return out


@torch.no_grad()
def option_logprobs(model, tokenizer, contexts: list[str], continuations: list[str],
                    batch_size: int = 64) -> list[float]:
    """Sum of log p(continuation | context) over the continuation's tokens, per pair.

    Context and continuation are tokenised separately (the continuation keeps its
    leading space), as lm-evaluation-harness does for loglikelihood requests.
    """
    return [s for s, _ in continuation_logliks(model, tokenizer, contexts, continuations, batch_size)]


@torch.no_grad()
def continuation_logliks(model, tokenizer, contexts: list[str], continuations: list[str],
                         batch_size: int = 64) -> list[tuple[float, int]]:
    """``(sum of log p(continuation | context), number of continuation tokens)`` per pair
    (tokenised as :func:`option_logprobs`); a context may be ``""`` when the continuation's
    first token then goes unscored (a document scored from its second token on)."""
    ctx = tokenizer(contexts, add_special_tokens=False)["input_ids"]
    cont = tokenizer(continuations, add_special_tokens=False)["input_ids"]
    ctx, cont = zip(*[(c, k) if c else (k[:1], k[1:]) for c, k in zip(ctx, cont)]) if ctx else ((), ())
    device = next(model.parameters()).device
    scores: list[tuple[float, int]] = []
    for s in range(0, len(ctx), batch_size):
        seqs = [c + k for c, k in zip(ctx[s: s + batch_size], cont[s: s + batch_size])]
        ids, mask = right_pad(seqs, tokenizer.pad_token_id, device)
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        for r, (c, k) in enumerate(zip(ctx[s: s + batch_size], cont[s: s + batch_size])):
            pos = torch.arange(len(c) - 1, len(c) + len(k) - 1)
            scores.append((logp[r, pos, torch.tensor(k, dtype=torch.long)].sum().item(), len(k)))
    return scores
