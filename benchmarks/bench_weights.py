"""Weight-change benchmark: streaming (``scalpel_core.lenses.weights``) against the naive way.

    python benchmarks/bench_weights.py                   # OLMo-2-1B shape, 2 checkpoints, CPU
    python benchmarks/bench_weights.py --shape 7b --device cuda --checkpoints 4

Three measurements on the same synthetic bf16 checkpoints (``benchmarks/synthetic.py``),
each in a fresh process that first reads the files (warm page cache), the fastest of
``--repeats`` runs reported (this VM reclaims cold page-cache pages, so single runs are noisy):

- **raw read**: the safetensors files of the base and the checkpoints read once into a
  buffer, the physical ceiling of any method that must see every weight;
- **streaming**: ``weights.compare(base, ckpts)``: tensor by tensor, the base read once;
- **naive**: what the authors did: per checkpoint, ``from_pretrained`` the base and the
  checkpoint and loop over ``named_parameters`` (two whole models in memory).

Throughput is (base + checkpoints) file bytes / seconds for all three, so the ratios compare
like with like. Peak memory is the peak of private (anonymous) memory; RSS also counts file
pages mapped from the page cache, which are not allocations. Targets: streaming >= 5x naive,
>= 60% of raw read, peak memory below one model's size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402
import synthetic  # noqa: E402


def _files(folders) -> list[Path]:
    return [f for d in folders for f in sorted(Path(d).glob("*.safetensors"))]


def raw_read(folders) -> dict:
    buf = bytearray(64 << 20)
    view = memoryview(buf)
    total, t0 = 0, time.perf_counter()
    for f in _files(folders):
        with open(f, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                total += n
    return {"seconds": time.perf_counter() - t0, "bytes": total}


def streaming(base, ckpts, device) -> dict:
    from scalpel_core.lenses import weights

    with common.PeakMemory() as mem:
        t0 = time.perf_counter()
        table = weights.compare(base, ckpts, use_cache=False, progress=False, device=device)
        seconds = time.perf_counter() - t0
    rel = table[table.metric == "rel_frobenius"].value.tolist()
    return {"seconds": seconds, "peak_anon": mem.peak_anon, "peak_rss": mem.peak_rss, "rel": rel}


def naive(base, ckpts, device) -> dict:
    """The authors' way: two whole models per checkpoint, one matrix at a time."""
    import torch
    from transformers import AutoModelForCausalLM

    from scalpel_core.arch import MATRICES, layer_index, matrix_type

    rel = []
    with common.PeakMemory() as mem, torch.no_grad():
        t0 = time.perf_counter()
        for ckpt in ckpts:
            a = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16).to(device)
            b = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.bfloat16).to(device)
            rows = []
            for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
                if matrix_type(name) in MATRICES and layer_index(name) is not None:
                    w = p.float()
                    rows.append(((layer_index(name), MATRICES.index(matrix_type(name))),
                                 ((q.float() - w).norm() / w.norm()).item()))
            rel += [v for _, v in sorted(rows)]
            del a, b
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_anon": mem.peak_anon, "peak_rss": mem.peak_rss, "rel": rel}


def float64_reference(base, ckpts) -> dict:
    """The relative changes computed in float64 from whole tensors: the accuracy yardstick."""
    import torch
    from safetensors import safe_open

    from scalpel_core.lenses import weights

    where = weights.tensor_files(base)
    rel = []
    for ckpt in ckpts:
        cw = weights.tensor_files(ckpt)
        for name, _, _ in weights.matrices(where):
            with safe_open(str(where[name]), "pt") as a, safe_open(str(cw[name]), "pt") as b:
                w = a.get_tensor(name).double()
                rel.append(((b.get_tensor(name).double() - w).norm() / w.norm()).item())
    return {"seconds": 0.0, "rel": rel}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="1b", choices=synthetic.SHAPES)
    p.add_argument("--checkpoints", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda (streaming and naive both use it)")
    p.add_argument("--skip-naive", action="store_true", help="only raw read and streaming")
    p.add_argument("--repeats", type=int, default=3, help="runs per method; the fastest is reported")
    p.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    base, ckpts = synthetic.build(args.shape, args.checkpoints)
    folders = [base, *ckpts]
    if args.worker:
        what = args.worker[0]
        if what != "float64":
            raw_read(folders)  # warm the page cache right before measuring (the VM reclaims cold pages)
        out = (raw_read(folders) if what == "raw" else float64_reference(base, ckpts) if what == "float64" else
               streaming(base, ckpts, args.device) if what == "streaming" else naive(base, ckpts, args.device))
        print(json.dumps(out))
        return
    model_bytes = synthetic.folder_bytes(base)
    data = sum(synthetic.folder_bytes(f) for f in folders)
    script = str(Path(__file__).resolve())
    flags = ["--shape", args.shape, "--checkpoints", str(args.checkpoints), "--device", args.device]
    methods = ["raw read", "streaming"] + ([] if args.skip_naive else ["naive"])
    res = {m: common.best_of(args.repeats, script, m.split()[0], *flags) for m in methods}
    rows = [{"method": k, "seconds": f"{v['seconds']:.2f}", "runs (s)": " ".join(map(str, v["all_seconds"])), "GB/s": f"{data / v['seconds'] / common.GB:.2f}",
             "peak private GB": f"{v['peak_anon'] / common.GB:.2f}" if "peak_anon" in v else "",
             "peak RSS GB": f"{v['peak_rss'] / common.GB:.2f}" if "peak_rss" in v else ""}
            for k, v in res.items()]
    print(f"weight change, OLMo-2 {args.shape} shape, bf16, {args.checkpoints} checkpoints + base, "
          f"{data / common.GB:.1f} GB of safetensors, one model {model_bytes / common.GB:.2f} GB, device {args.device}")
    print(common.table(rows, ["method", "seconds", "runs (s)", "GB/s", "peak private GB", "peak RSS GB"]))
    s = res["streaming"]
    parts = [common.verdict("streaming/raw read", res["raw read"]["seconds"] / s["seconds"] * 100, 60, "%"),
             common.verdict("peak private memory / one model", s["peak_anon"] / model_bytes * 100, 100, "%",
                            higher=False)]
    ref = common.worker(script, "float64", *flags)["rel"]

    def err(r):
        return max(abs(a - b) / b for a, b in zip(r["rel"], ref))

    if "naive" in res:
        parts.insert(0, common.verdict("streaming speed-up over naive", res["naive"]["seconds"] / s["seconds"], 5))
    parts.append(f"largest relative error against float64 over {len(ref)} matrices: streaming {err(s):.1e}"
                 + (f", naive {err(res['naive']):.1e}" if "naive" in res else ""))
    print("SUMMARY weights: " + "; ".join(parts))


if __name__ == "__main__":
    main()
