"""KL benchmark: the batched, masked ``kl.kl_per_example`` against batch size 1 (the authors' setting).

    python benchmarks/bench_kl.py                  # tiny model + a larger random OLMo-2, CPU
    python benchmarks/bench_kl.py --device cuda --large 7b

Two model pairs (base, fine-tuned = base plus a random update of 20% of each tensor's mean magnitude, for a
KL well away from 0):

- **tiny**: random weights in the `tiny` preset's shape (speed depends on the shape only) on
  its 500 MATH-500-analogue chats, tokenised by a tokenizer trained on its world as the base's is;
- **large**: a random OLMo-2 (``--large``: ``small`` = 12 layers x 768, vocab 50304, ~160M
  parameters, fits a 2-core machine; ``1b`` or ``7b`` on a GPU) on random token sequences with
  the length spread of real MATH-500 chats under OLMo-2's tokenizer (100-400 tokens).

Each pair is scored four ways with the same code: batch size 1 (base and fine-tuned forward
per example, as the authors ran it), batched (sorted by length, right-padded, masked),
batched with the base's log-probs cached across checkpoints (what ``kl.curve`` does when they
fit), and that with the shared token prefix run once (``share_prefix``, the default of
``kl.curve``: the system prompt of the authors' template, as notebook 04 renders the chats).
Reported: real tokens per second and the largest relative difference from batch size 1.
Target: batched >= 4x batch size 1, with the same results.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402

LARGE = {
    "test": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128,
                 vocab_size=1000),  # for the test of this script
    "small": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                  vocab_size=50304),
    "1b": dict(num_hidden_layers=16, hidden_size=2048, num_attention_heads=16, intermediate_size=8192,
               vocab_size=100352),
    "7b": dict(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32, intermediate_size=11008,
               vocab_size=100352),
}


def _pair(cfg, device, dtype, seed=0):
    from transformers import Olmo2ForCausalLM

    torch.manual_seed(seed)
    base = Olmo2ForCausalLM(cfg).to(dtype)
    tuned = Olmo2ForCausalLM(cfg).to(dtype)
    tuned.load_state_dict(base.state_dict())
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn_like(p) * 0.2 * p.abs().mean())
    return base.to(device).eval(), tuned.to(device).eval()


def tiny_case(device, dtype, preset="tiny"):
    from scalpel_core import config, worlds
    from scalpel_core.lenses import kl
    from scalpel_core.world.pretrain import model_config
    from scalpel_core.world.tokenizer import train_tokenizer

    cfg = config.load(preset)
    tok = train_tokenizer(worlds.world(cfg).tokenizer_corpus(), cfg.vocab_size)
    ids = kl.encode(tok, worlds.math500_conversations(cfg), cfg.kl_template)  # as notebook 04
    base, tuned = _pair(model_config(cfg, tok), device, dtype)
    return f"{preset} ({cfg.n_layers} x {cfg.hidden_size}, vocab {len(tok)})", base, tuned, ids, tok.pad_token_id


def large_case(name, device, dtype, n=32):
    from transformers import Olmo2Config

    cfg = Olmo2Config(**LARGE[name], num_key_value_heads=LARGE[name]["num_attention_heads"],
                      max_position_embeddings=4096, bos_token_id=None, pad_token_id=1, eos_token_id=2)
    rng = np.random.default_rng(0)
    ids = [rng.integers(3, cfg.vocab_size, size=int(k)).tolist() for k in rng.integers(100, 401, size=n)]
    base, tuned = _pair(cfg, device, dtype)
    n_params = sum(p.numel() for p in base.parameters())
    return f"{name} ({cfg.num_hidden_layers} x {cfg.hidden_size}, {n_params / 1e6:.0f}M)", base, tuned, ids, 1


def measure(label, base, tuned, ids, pad_id, batch_size, device) -> tuple[list[dict], dict]:
    from scalpel_core.lenses import kl

    tokens = sum(map(len, ids))

    def run(bs, cache, share=False):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = kl.kl_per_example(base, tuned, ids, bs, pad_id, base_cache=cache, share_prefix=share)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0

    kl.kl_per_example(base, tuned, ids[:4], batch_size, pad_id, share_prefix=False)  # warm-up (allocator, kernels)
    one, t_one = run(1, None)
    batched, t_b = run(batch_size, None)
    store: dict = {}
    run(batch_size, store)  # fills the base cache (one "first checkpoint")
    cached, t_c = run(batch_size, store)
    shared_store: dict = {}
    run(batch_size, shared_store, True)
    shared, t_s = run(batch_size, shared_store, True)
    rows = []
    for how, out, t in (("batch size 1", one, t_one), (f"batched ({batch_size})", batched, t_b),
                        (f"batched ({batch_size}) + cached base", cached, t_c),
                        (f"... + shared prefix ({kl.shared_prefix(ids)} tokens)", shared, t_s)):
        rows.append({"model": label, "method": how, "seconds": f"{t:.2f}", "tokens/s": f"{tokens / t:,.0f}",
                     "speed-up": f"{t_one / t:.1f}x",
                     "max rel. diff vs bs 1": f"{np.max(np.abs(out - one) / np.abs(one)):.1e}"})
    return rows, {"speedup": t_one / t_b, "cached_speedup": t_one / t_c, "shared_speedup": t_one / t_s,
                  "prefix_gain": t_c / t_s, "tokens_per_s": tokens / t_b,
                  "flops_per_token": 2 * common.flops_per_token(base),  # forward FLOPs of both models
                  "seconds_bs1": t_one, "tokens": tokens,
                  "diff": float(np.max(np.abs(batched - one) / np.abs(one)))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--preset", default="tiny", help="the miniature preset whose model shape and chats are used")
    p.add_argument("--large", default="small", choices=LARGE)
    p.add_argument("--batch-size", type=int, default=64, help="as notebook 04 on tiny")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="the GPU's dense bf16 matrix rate, for MFU (H100/H200 SXM: 989)")
    args = p.parse_args()
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    rows, summary = [], {}
    for case in (tiny_case(args.device, dtype, args.preset), large_case(args.large, args.device, dtype)):
        r, s = measure(*case, args.batch_size, args.device)
        rows += r
        summary[case[0]] = s
    print(f"KL(base || fine-tuned), teacher-forced, device {args.device}, {dtype}")
    print(common.table(rows, ["model", "method", "seconds", "tokens/s", "speed-up", "max rel. diff vs bs 1"]))
    parts = []
    for label, s in summary.items():
        name = label.split(" ")[0]
        parts.append(common.verdict(f"{name}: as kl.curve runs it (batched + cached base + shared prefix)/bs1",
                                    s["shared_speedup"], 4)
                     + f", batched alone {s['speedup']:.2f}x, shared prefix {s['prefix_gain']:.2f}x over the cached "
                       f"base alone, max rel. diff {s['diff']:.1e}")
        if s["shared_speedup"] < 4 and not args.device.startswith("cuda"):
            rate = s["tokens"] * s["flops_per_token"] / s["seconds_bs1"] / 1e9
            parts.append(f"why {name} misses: its batch-size-1 forward already runs at {rate:.0f} GFLOP/s on this "
                         "CPU, so batching has little per-call overhead to save and adds padding, and the cached "
                         "base saves at most 2x (profile in benchmarks/README.md)")
        if args.device.startswith("cuda"):
            mfu = s["tokens_per_s"] * s["flops_per_token"] / (args.peak_tflops * 1e12)
            parts.append(f"{label.split(' ')[0]} MFU {100 * mfu:.1f}% of {args.peak_tflops:g} TFLOP/s")
    print("SUMMARY kl: " + "; ".join(parts))


if __name__ == "__main__":
    main()
