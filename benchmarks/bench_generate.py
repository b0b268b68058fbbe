"""Decoding benchmark: the fast decoder (``scalpel_core.eval.decoding``) against plain ``model.generate``
at batch 64 (today's way before it), greedy and sampled, on the preset's base, against the machine's
measured matmul ceiling.

    .venv/bin/python benchmarks/bench_generate.py                 # tiny base, CPU (make bench)
    .venv/bin/python benchmarks/bench_generate.py --sweep         # also tokens/s against batch size 16...2048
    .venv/bin/python benchmarks/bench_generate.py --preset smoke --prompts 40 --samples 4   # the test's run

Workloads: greedy completions of the first ``--prompts`` MATH-500-analogue prompts (budget
``max_new_tokens``), and ``--samples`` sampled completions (temperature 0.6, GRPO's) of the first
``--sample-prompts`` of them. Tokens/s counts new tokens up to and including each end token.
Ceiling: 2 x (parameters outside the input embedding) FLOPs per token (attention's share left out,
so the ratio is generous to the ceiling) x tokens/s / the float32 matmul FLOP/s measured here.
The greedy completions of both ways are compared; the run fails if any differs. Targets: greedy
and sampled >= 5x plain ``model.generate`` at batch 64, measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _tokens(tokenizer, texts) -> int:
    """New tokens of decoded completions, with the end token each one that stopped said."""
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--prompts", type=int, default=500, help="greedy workload: first N MATH-500 analogues")
    ap.add_argument("--sample-prompts", type=int, default=64)
    ap.add_argument("--samples", type=int, default=16, help="sampled completions per prompt")
    ap.add_argument("--rows", type=int, default=None, help="fast decoder's rows at once (default: the preset's decode_rows)")
    ap.add_argument("--sweep", action="store_true", help="tokens/s against batch size, both ways")
    args = ap.parse_args(argv)

    from scalpel_core import config, worlds
    from scalpel_core.eval.generation import generate, generate_plain, sample

    cfg = config.load(args.preset)
    model, tokenizer, _ = worlds.load_base(cfg, progress=False)
    model.eval()
    rows_at_once = args.rows or cfg.decode_rows
    prompts = [it["prompt"] for it in worlds.math500_prompts(cfg, args.prompts)]
    sprompts = prompts[: args.sample_prompts]
    budget, temp = cfg.max_new_tokens, cfg.temperature
    ceiling = common.matmul_flops()
    fpt = common.flops_per_token(model)
    print(f"machine: {torch.get_num_threads()} threads, float32 matmul {ceiling / 1e9:.0f} GFLOP/s; model "
          f"{fpt / 1e6:.1f} MFLOP per token -> ceiling {ceiling / fpt:,.0f} tokens/s")

    results, rows = {}, []

    def record(name, seconds, texts):
        n = _tokens(tokenizer, texts)
        results[name] = n / seconds
        rows.append({"way": name, "seconds": f"{seconds:.2f}", "new tokens": n, "tokens/s": f"{n / seconds:,.0f}",
                     "of ceiling": f"{n / seconds * fpt / ceiling:.1%}"})

    generate(model, tokenizer, prompts[:8], 8, rows_at_once)  # warm-up (allocator, first-call costs)
    t, plain = _timed(lambda: generate_plain(model, tokenizer, prompts, budget, 64))
    record("greedy, model.generate batch 64", t, plain)
    t, fast = _timed(lambda: generate(model, tokenizer, prompts, budget, rows_at_once))
    record(f"greedy, fast decoder {rows_at_once} rows", t, fast)
    differ = sum(a != b for a, b in zip(plain, fast))

    flat = [p for p in sprompts for _ in range(args.samples)]
    torch.manual_seed(0)
    t, splain = _timed(lambda: generate_plain(model, tokenizer, flat, budget, 64, do_sample=True, temperature=temp))
    record(f"sampled x{args.samples}, model.generate batch 64", t, splain)
    t, sfast = _timed(lambda: sample(model, tokenizer, sprompts, args.samples, budget, temp, seed=0,
                                     batch_size=rows_at_once))
    record(f"sampled x{args.samples}, fast decoder {rows_at_once} rows", t, [s for x in sfast for s in x])
    again = sample(model, tokenizer, sprompts[:4], args.samples, budget, temp, seed=0, batch_size=rows_at_once)
    reproducible = again == sample(model, tokenizer, sprompts[:4], args.samples, budget, temp, seed=0,
                                   batch_size=rows_at_once)

    if args.sweep:
        for bs in (16, 64, 256, 1024, 2048):
            if bs <= 256:
                t, out = _timed(lambda: generate_plain(model, tokenizer, prompts, budget, bs))
                record(f"greedy, model.generate batch {bs}", t, out)
            t, out = _timed(lambda: generate(model, tokenizer, prompts, budget, bs))
            record(f"greedy, fast decoder {bs} rows", t, out)
            t, out = _timed(lambda: sample(model, tokenizer, sprompts, args.samples, budget, temp, 0, bs))
            record(f"sampled x{args.samples}, fast decoder {bs} rows", t, [s for x in out for s in x])

    print(common.table(rows, list(rows[0])))
    greedy = results[f"greedy, fast decoder {rows_at_once} rows"] / results["greedy, model.generate batch 64"]
    sampled = (results[f"sampled x{args.samples}, fast decoder {rows_at_once} rows"]
               / results[f"sampled x{args.samples}, model.generate batch 64"])
    print(f"greedy completions differing from model.generate: {differ} of {len(prompts)}; "
          f"sampling reproducible from its seed: {reproducible}")
    print("SUMMARY generate: " + common.verdict("greedy fast / model.generate", greedy, 5.0) + "; "
          + common.verdict("sampled", sampled, 5.0) + f"; greedy identical: {differ == 0}")
    return 0 if differ == 0 and reproducible else 1


if __name__ == "__main__":
    raise SystemExit(main())
