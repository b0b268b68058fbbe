"""GPU readiness, with no hub: the code paths a paper-scale run takes, at paper-scale shapes, on CUDA.

    make gpu-check                                         # CUDA: the shapes below, bf16
    .venv/bin/python benchmarks/gpu_check.py --shapes test # CPU, tiny shapes (tests/test_bench_scripts.py)

Four checks, one summary table:

1. **train**: our trainer (``scalpel_core.train.trainer.train``) runs two GRPO steps and two SFT-1ep
   steps of a random model with OLMo-2-1B's blocks (16 x 2048, 16 heads, MLP 8192; the miniature
   world's vocabulary and data, pretrained one step), in bf16 autocast over float32 master weights
   on CUDA; the published checkpoints must exist, be finite, and be bf16 there.
2. **kl**: ``kl.kl_per_example`` between two random OLMo-2-7B-shaped models on 32 sequences of
   100-400 tokens (as ``bench_kl.py --large 7b``), batched against batch size 1, with model-FLOPs
   utilisation against ``--peak-tflops`` (989: H100/H200 SXM dense bf16).
3. **weights**: ``weights.compare`` over synthetic OLMo-2-1B bf16 checkpoints (base + 2), GB/s read.
4. **decode**: the fast decoder against ``model.generate`` on a random 1B-shaped model, 64 prompts x
   128 new tokens, tokens/s (and how many greedy completions agree; bf16 rounding may split them).

Exit status 0 when every check ran and its invariants held (speeds are reported, never asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402

# block shapes of the checks (the miniature trainer takes n_layers, hidden_size, n_heads, intermediate_size)
TRAIN = {"gpu": dict(n_layers=16, hidden_size=2048, n_heads=16, intermediate_size=8192),
         "test": dict(n_layers=2, hidden_size=64, n_heads=2, intermediate_size=128)}
KL = {"gpu": "7b", "test": "test"}
WEIGHTS = {"gpu": "1b", "test": "test"}
DECODE = {"gpu": "1b", "test": "test"}


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def check_train(shapes: str, device: str, root: Path) -> list[dict]:
    from safetensors import safe_open

    from scalpel_core import config
    from scalpel_core.checkpoints import list_checkpoints, step_name
    from scalpel_core.train import trainer
    from scalpel_core.world.base import build_base

    os.environ["SCALPEL_ARTIFACTS"] = str(root / "artifacts")
    bf16 = device == "cuda"
    common_kw = dict(**TRAIN[shapes], pretrain_steps=1, train_steps=2, n_checkpoints=1, bf16=bf16,
                     gradient_checkpointing=bf16, max_completion_length=48)
    build_base(config.load("smoke", **common_kw), progress=False)
    rows = []
    for method in ("grpo", "sft1ep"):
        cfg = config.load("smoke", method=method, **common_kw)
        _sync(device)
        t0 = time.perf_counter()
        run = trainer.train(cfg, progress=False)
        _sync(device)
        seconds = time.perf_counter() - t0
        last = Path(list_checkpoints(run)[-1]["path"])
        dtypes = set()
        for f in last.glob("*.safetensors"):
            with safe_open(f, "pt") as fh:
                for name in fh.keys():
                    t = fh.get_tensor(name)
                    dtypes.add(str(t.dtype).replace("torch.", ""))
                    assert torch.isfinite(t.float()).all(), f"{run.name}: {name} is not finite"
        losses = [e["loss"] for e in json.loads((run / "train_log.json").read_text()) if "loss" in e]
        ok = last.name == step_name(2) and len(losses) == 2 and dtypes == ({"bfloat16"} if bf16 else {"float32"})
        rows.append({"check": f"train {method}", "shape": f"{cfg.n_layers} x {cfg.hidden_size}",
                     "dtype": "bf16 autocast, fp32 master" if bf16 else "float32",
                     "measured": f"{seconds:.1f} s for 2 steps (with start-up), losses "
                                 + ", ".join(f"{v:.3g}" for v in losses),
                     "status": "ok" if ok else f"FAILED (last {last.name}, dtypes {sorted(dtypes)})"})
    return rows


def check_kl(shapes: str, device: str, peak_tflops: float) -> list[dict]:
    import bench_kl

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    label, base, tuned, ids, pad = bench_kl.large_case(KL[shapes], device, dtype)
    _, res = bench_kl.measure(label, base, tuned, ids, pad, 16, device)
    if device != "cuda":  # a CPU's peak is its measured float32 matmul
        peak_tflops = common.matmul_flops() / 1e12
    mfu = res["tokens_per_s"] * res["flops_per_token"] / (peak_tflops * 1e12)
    del base, tuned
    ok = res["diff"] < (5e-2 if dtype == torch.bfloat16 else 1e-4)
    return [{"check": "kl", "shape": label, "dtype": str(dtype).replace("torch.", ""),
             "measured": f"{res['tokens_per_s']:,.0f} tokens/s batched ({res['speedup']:.1f}x bs 1), "
                         f"MFU {mfu:.1%} of {peak_tflops:.3g} TFLOP/s",
             "status": "ok" if ok else f"FAILED (batched vs bs 1 differ by {res['diff']:.1e})"}]


def check_weights(shapes: str, device: str) -> list[dict]:
    import synthetic

    from scalpel_core.lenses import weights

    base, ckpts = synthetic.build(WEIGHTS[shapes], 2)
    read = sum(synthetic.folder_bytes(Path(c)) for c in [base, *ckpts])
    _sync(device)
    t0 = time.perf_counter()
    table = weights.compare(base, ckpts, use_cache=False, progress=False, device=device)
    _sync(device)
    seconds = time.perf_counter() - t0
    ok = len(table) > 0 and table["value"].notna().all()
    return [{"check": "weights", "shape": WEIGHTS[shapes], "dtype": "bfloat16 files",
             "measured": f"{read / 1e9:.2f} GB in {seconds:.2f} s = {read / 1e9 / seconds:.2f} GB/s",
             "status": "ok" if ok else "FAILED (empty or NaN table)"}]


def check_decode(shapes: str, device: str) -> list[dict]:
    import synthetic
    from transformers import Olmo2ForCausalLM

    from scalpel_core.eval import decoding

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    model = Olmo2ForCausalLM(synthetic.config(DECODE[shapes])).to(device, dtype).eval()
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    prompts = [[3] + torch.randint(3, vocab, (int(n),), generator=gen).tolist()
               for n in torch.randint(20, 60, (64,), generator=gen)]
    new = 128
    assert decoding.supported(model)
    _sync(device)
    t0 = time.perf_counter()
    fast = decoding.decode_ids(model, prompts, new, -1, batch_size=512)
    _sync(device)
    t_fast = time.perf_counter() - t0
    plain = []
    _sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for p in prompts:  # model.generate one prompt at a time: no padding to tell apart
            out = model.generate(torch.tensor([p], device=device), max_new_tokens=new, min_new_tokens=new,
                                 do_sample=False, pad_token_id=1, eos_token_id=None)
            plain.append(out[0, len(p):].tolist())
    _sync(device)
    t_plain = time.perf_counter() - t0
    same = sum(f[0] == p for f, p in zip(fast, plain))
    tokens = len(prompts) * new
    ok = all(len(f[0]) == new for f in fast) and (same == len(prompts) or dtype == torch.bfloat16)
    return [{"check": "decode", "shape": DECODE[shapes], "dtype": str(dtype).replace("torch.", ""),
             "measured": f"fast {tokens / t_fast:,.0f} tokens/s, model.generate (bs 1) {tokens / t_plain:,.0f}; "
                         f"{same}/{len(prompts)} greedy completions identical",
             "status": "ok" if ok else "FAILED"}]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", choices=["gpu", "test"], default=None,
                    help="gpu: 1B/7B shapes (default on CUDA); test: tiny shapes (default on CPU)")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    args = ap.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    shapes = args.shapes or ("gpu" if device == "cuda" else "test")
    print(f"gpu-check on {torch.cuda.get_device_name(0) if device == 'cuda' else 'CPU (no CUDA device)'}, "
          f"shapes {shapes}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for name, fn in (("train", lambda: check_train(shapes, device, Path(tmp))),
                         ("kl", lambda: check_kl(shapes, device, args.peak_tflops)),
                         ("weights", lambda: check_weights(shapes, device)),
                         ("decode", lambda: check_decode(shapes, device))):
            try:
                rows += fn()
            except Exception as err:  # a check that cannot run is a row, not a stop
                rows.append({"check": name, "shape": shapes, "dtype": "", "measured": "",
                             "status": f"FAILED: {type(err).__name__}: {str(err).splitlines()[0][:200]}"})
            if device == "cuda":
                torch.cuda.empty_cache()
    print(common.table(rows, ["check", "shape", "dtype", "measured", "status"]))
    failed = [r["check"] for r in rows if r["status"] != "ok"]
    print(f"SUMMARY gpu-check ({device}, {shapes} shapes): {len(rows) - len(failed)}/{len(rows)} ok"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
