"""Pretrain the miniature base model: a small Olmo2ForCausalLM on the world's corpus.

The paper starts from a released instruct model; the miniature world has to make its
own, with real but partial skills. Command (builds and caches the base of a preset):

    scalpel base --preset tiny [--rebuild]
"""

from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm
from transformers import Olmo2Config, Olmo2ForCausalLM

from ..config import Config


def model_config(cfg: Config, tokenizer) -> Olmo2Config:
    """An OLMo-2 architecture (q_norm/k_norm, SwiGLU, RoPE) shrunk to the preset's size."""
    return Olmo2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,  # no GQA, as OLMo-2-7B
        max_position_embeddings=cfg.max_seq_len,
        tie_word_embeddings=False,  # OLMo-2 unties embeddings and lm_head
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def pack(docs: list[str], tokenizer, seq_len: int) -> torch.Tensor:
    """Concatenate the tokenised documents and cut them into ``seq_len`` blocks."""
    ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
    flat = torch.tensor([t for doc in ids for t in doc], dtype=torch.long)
    n = len(flat) // seq_len
    return flat[: n * seq_len].view(n, seq_len)


def lr_at(step: int, cfg: Config) -> float:
    """5% linear warm-up, then cosine decay to 10% of the peak."""
    warm = max(1, cfg.pretrain_steps // 20)
    if step < warm:
        return cfg.pretrain_lr * (step + 1) / warm
    t = (step - warm) / max(1, cfg.pretrain_steps - warm)
    return cfg.pretrain_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def pretrain(cfg: Config, docs: list[str], tokenizer, progress: bool = True, callback=None, every: int = 10):
    """Train a fresh base on ``docs``. Returns (model, log rows). Deterministic for a seed.

    ``callback(step, model)`` runs every ``1/every`` of training (10%: skill vs steps; 5%: the
    base-selection rule of world v4); the log's ``seconds`` leave out the time it takes. If it
    returns True, training stops there (the model is the one at that step: the schedule and data
    order are those of the full run, so the stopped model is that run's checkpoint).
    """
    torch.manual_seed(cfg.seed)
    model = Olmo2ForCausalLM(model_config(cfg, tokenizer))
    blocks = pack(docs, tokenizer, cfg.pretrain_seq_len)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.pretrain_lr, betas=(0.9, 0.95), weight_decay=0.1)
    model.train()
    log, order, pos, t0, probing = [], torch.randperm(len(blocks), generator=gen), 0, time.time(), 0.0
    bar = tqdm(range(cfg.pretrain_steps), desc="pretraining base", disable=not progress)
    for step in bar:
        if pos + cfg.pretrain_batch_size > len(order):  # next epoch, new order
            order, pos = torch.randperm(len(blocks), generator=gen), 0
        batch = blocks[order[pos: pos + cfg.pretrain_batch_size]]
        pos += cfg.pretrain_batch_size
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = model(input_ids=batch, labels=batch).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"pretraining loss is {loss.item()} at step {step}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        log.append({"step": step, "loss": loss.item(), "lr": lr_at(step, cfg),
                    "seconds": time.time() - t0 - probing})
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if callback is not None and (step + 1) % max(1, cfg.pretrain_steps // every) == 0:
            t1 = time.time()
            model.eval()
            stop = callback(step + 1, model)
            model.train()
            probing += time.time() - t1
            if stop:
                break
    bar.close()
    model.eval()
    return model, log
