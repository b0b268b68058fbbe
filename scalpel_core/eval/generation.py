"""Batched greedy generation and option log-likelihoods for any HF causal LM with a chat template."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..batching import right_pad


def _chat_texts(tokenizer, prompts: list[list[dict]]) -> list[str]:
    return [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]


@torch.no_grad()
def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 64,
             progress: bool = False, desc: str = "generating", prefixes: list[str] | None = None) -> list[str]:
    """Greedy completions of chat ``prompts`` (lists of messages), in input order.

    ``prefixes`` prefill the start of each assistant reply; the completion excludes them.
    """
    texts = _chat_texts(tokenizer, prompts)
    if prefixes is not None:
        texts = [t + p for t, p in zip(texts, prefixes, strict=True)]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
    out: list[str] = [""] * len(texts)
    device = next(model.parameters()).device
    for s in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress):
        idx = order[s: s + batch_size]
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
        gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
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
    ctx = tokenizer(contexts, add_special_tokens=False)["input_ids"]
    cont = tokenizer(continuations, add_special_tokens=False)["input_ids"]
    device = next(model.parameters()).device
    scores: list[float] = []
    for s in range(0, len(ctx), batch_size):
        seqs = [c + k for c, k in zip(ctx[s: s + batch_size], cont[s: s + batch_size])]
        ids, mask = right_pad(seqs, tokenizer.pad_token_id, device)
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        for r, (c, k) in enumerate(zip(ctx[s: s + batch_size], cont[s: s + batch_size])):
            pos = torch.arange(len(c) - 1, len(c) + len(k) - 1)
            scores.append(logp[r, pos, torch.tensor(k)].sum().item())
    return scores
