"""Rank and rotation lens at the 7B shape: time and memory per checkpoint, full against randomized SVD.

    python benchmarks/bench_spectra.py                       # OLMo-2-7B shapes, CPU, float32
    python benchmarks/bench_spectra.py --device cuda         # the same on a GPU
    python benchmarks/bench_spectra.py --shape test          # seconds (the test suite)

``scalpel_core.lenses.spectra`` takes, per projection matrix and checkpoint, the singular values of
dW (ranks), the singular values and top-r singular vectors of W_ckpt (spectrum, rotation; the
base's once for all checkpoints). This script times that work on one matrix of each 7B shape
(q/k/v/o 4096 x 4096; gate/up 11008 x 4096; down 4096 x 11008, the transpose of gate's: the same
cost), each variant in a fresh process for its peak memory, and extrapolates to one checkpoint
(32 layers x (4 square + 3 MLP matrices)). Variants:

- **full**: ``torch.linalg.svd`` of W_ckpt + ``svdvals`` of dW (what ``svd="full"`` runs);
- **randomized**: ``torch.svd_lowrank`` (r = 10% of the smaller side + 10, 4 power iterations) for
  the vectors, ``svdvals`` of W_ckpt and of dW for the exact spectrum and ranks (``svd="randomized"``).

The matrices are synthetic: a random orthogonal basis with a power-law spectrum plus a bulk (like a
trained weight matrix), and a checkpoint = base + a small dense update. The largest principal
angle at r = 5% from both variants is printed, so the randomized error is visible beside its gain.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import GB, PeakMemory, table, worker  # noqa: E402

SHAPES = {"7b": {"square": (4096, 4096), "mlp": (11008, 4096), "layers": 32},
          "test": {"square": (96, 96), "mlp": (256, 96), "layers": 2}}


def _matrices(m: int, n: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    k = min(m, n)
    u, _ = torch.linalg.qr(torch.randn(m, k, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, k, generator=g))
    s = (1.0 + torch.arange(k, dtype=torch.float32)) ** -0.6 + 0.05 * torch.rand(k, generator=g)
    w = (u * s) @ v.T
    c = w + 2e-3 * w.std() * torch.randn(m, n, generator=g)
    return w.to(device), c.to(device)


def _work(shape: str, kind: str, svd: str, device: str) -> dict:
    import torch

    from scalpel_core.lenses import spectra

    m, n = SHAPES[shape][kind]
    w, c = _matrices(m, n, device)
    base = spectra._Basis(w, max(spectra.subspace_sizes(m, n)), svd)  # once per base: not timed
    with PeakMemory() as mem:
        start = time.perf_counter()
        metrics = spectra.matrix_metrics(base, w, c, svd)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    out = {"seconds": seconds, "peak_anon": mem.peak_anon, "angle": metrics["left_angle_max@5%"],
           "rank": metrics["rank_fraction"]}
    if device.startswith("cuda"):
        out["peak_cuda"] = torch.cuda.max_memory_allocated()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="7b", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "SVD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_work(args.shape, *args.worker, args.device)))
        return
    spec = SHAPES[args.shape]
    rows, per = [], {}
    for svd in ("full", "randomized"):
        for kind in ("square", "mlp"):
            r = worker(__file__, kind, svd, "--shape", args.shape, "--device", args.device)
            per[(svd, kind)] = r
            rows.append({"svd": svd, "matrix": "x".join(map(str, spec[kind])), "seconds": f"{r['seconds']:.2f}",
                         "peak private GB": f"{r['peak_anon'] / GB:.2f}",
                         **({"peak cuda GB": f"{r['peak_cuda'] / GB:.2f}"} if "peak_cuda" in r else {}),
                         "largest angle @5% (deg)": f"{r['angle']:.3f}", "rank/min": f"{r['rank']:.3f}"})
    print(table(rows, list(rows[0])))
    totals = {svd: spec["layers"] * (4 * per[(svd, "square")]["seconds"] + 3 * per[(svd, "mlp")]["seconds"])
              for svd in ("full", "randomized")}
    memory = {svd: max(per[(svd, k)]["peak_anon"] for k in ("square", "mlp")) / GB for svd in totals}
    err = max(abs(per[("full", k)]["angle"] - per[("randomized", k)]["angle"]) for k in ("square", "mlp"))
    for svd in totals:
        print(f"{svd}: {totals[svd]:.0f} s per checkpoint ({totals[svd] / 60:.1f} min), peak private memory "
              f"{memory[svd]:.2f} GB ({args.device})")
    print(f"SUMMARY spectra ({args.shape}, {args.device}): randomized speed-up over full "
          f"{totals['full'] / totals['randomized']:.2f}x; largest-angle difference {err:.3g} deg")


if __name__ == "__main__":
    main()
