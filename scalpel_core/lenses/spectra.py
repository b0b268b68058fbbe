"""The rank of each update and how far each matrix's principal subspaces rotate, streamed.

    table = spectra.compare(base_dir, [ckpt_dir, ...])       # any HF Llama/OLMo checkpoints
    table = spectra.run_table(run_dir)                        # a training run: checkpoints vs its base
    scalpel report BASE CKPT [CKPT ...] --out DIR             # with every other lens, as one page

Per layer x projection matrix (q, k, v, o, gate, up, down) and checkpoint, with
dW = W_ckpt - W_base (float32) and min(m, n) = the smaller side of the matrix:

- ``rank_fraction``: the numerical rank of dW (``torch.linalg.matrix_rank``'s default tolerance,
  sigma_max * max(m, n) * eps(float32)) over min(m, n). Mukherjee et al. 2025: RL updates are
  sparse yet nearly full rank.
- ``effective_rank_fraction``: the number of singular values of dW that hold 99% of its energy
  (sum of sigma^2), over min(m, n).
- ``{left,right}_angle_{max,mean}@{1,5,10}%``: the principal angles, in degrees, between the top-r
  left (right) singular subspaces of W_base and W_ckpt, r = 1%, 5%, 10% of min(m, n) (at least 1).
  Zhu et al. 2025: RLVR keeps the principal subspace, SFT rotates it.
- ``spectrum_shift``: ||sigma(W_ckpt) - sigma(W_base)||_2 / ||sigma(W_base)||_2.

Tensors are read one at a time from safetensors (no model is loaded); the base's SVD is taken
once per tensor for all checkpoints. ``svd="full"`` (and ``"auto"``) takes full SVDs;
``"randomized"`` takes the top singular vectors from ``torch.svd_lowrank`` (the spectra and ranks
stay exact, from ``torch.linalg.svdvals``). Measured at the 7B shapes on 2 CPU cores
(benchmarks/bench_spectra.py): the exact singular values dominate, so the randomized vectors save
only 4% (6161 s against 6387 s per checkpoint) for an error of 0.19 degrees in the largest angle;
``"auto"`` is therefore full. Matrices up to ``FLOAT64_UP_TO`` on the smaller side (the miniature)
take their SVDs in float64 on the CPU; larger ones in float32.
Each (base, checkpoint, svd) triple is cached under the content hashes of both checkpoints.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..checkpoints import list_checkpoints, nonfinite_summary, steps_table
from .weights import WeightsError, _open, cached_pairs, checked_matrices

VERSION = 1  # bump when a metric or its computation changes (invalidates the cache)
FRACTIONS = (0.01, 0.05, 0.10)  # subspace sizes r as fractions of min(m, n) (the 1%, 5%, 10%)
ENERGY = 0.99  # effective rank: singular values holding this share of sum(sigma^2)
FLOAT64_UP_TO = 2048  # SVDs in float64 on CPU up to this smaller side (the miniature: 128), float32 above
OVERSAMPLE = 10  # randomized SVD: extra columns beyond the largest r ...
NITER = 4  # ... and power iterations (torch.svd_lowrank's accuracy knobs)


def angle_metrics() -> list[str]:
    return [f"{side}_angle_{stat}@{f:.0%}" for f in FRACTIONS for side in ("left", "right") for stat in ("max", "mean")]


METRICS = ("rank_fraction", "effective_rank_fraction", "spectrum_shift", *angle_metrics())


def subspace_sizes(m: int, n: int) -> list[int]:
    """r for each of :data:`FRACTIONS`: round(fraction * min(m, n)), at least 1."""
    return [max(1, round(f * min(m, n))) for f in FRACTIONS]


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The principal angles (degrees, ascending) between the column spans of two matrices with
    orthonormal columns: arccos of the singular values of a^T b."""
    cos = torch.linalg.svdvals(a.T @ b).clamp(0.0, 1.0)
    return torch.rad2deg(torch.arccos(cos))


def update_ranks(dw: torch.Tensor) -> tuple[int, int]:
    """(numerical rank with matrix_rank's default tolerance for dW's dtype, effective rank at
    :data:`ENERGY`) of dW; its singular values are taken in :func:`_dtype`."""
    s = torch.linalg.svdvals(dw.to(_dtype(dw)))
    if s.numel() == 0 or float(s[0]) == 0.0:
        return 0, 0
    tol = float(s[0]) * max(dw.shape) * torch.finfo(dw.dtype).eps
    energy = torch.cumsum(s.double() ** 2, 0)
    effective = int(torch.searchsorted(energy, ENERGY * energy[-1]).item()) + 1
    return int((s > tol).sum()), min(effective, s.numel())


def _dtype(w: torch.Tensor) -> torch.dtype:
    """float64 for the SVDs where it is cheap (CPU, smaller side up to FLOAT64_UP_TO), else float32."""
    return torch.float64 if w.device.type == "cpu" and min(w.shape) <= FLOAT64_UP_TO else torch.float32


class _Basis:
    """Top singular vectors and all singular values of one matrix (:func:`_dtype`)."""

    def __init__(self, w: torch.Tensor, r_max: int, svd: str):
        w = w.to(_dtype(w))
        if svd == "full":
            u, self.s, vh = torch.linalg.svd(w, full_matrices=False)
            self.u, self.v = u[:, :r_max], vh[:r_max].T
        else:  # randomized subspaces, exact spectrum
            self.s = torch.linalg.svdvals(w)
            with torch.random.fork_rng(devices=[w.device] if w.is_cuda else []):  # svd_lowrank uses the global RNG
                torch.manual_seed(0)  # the same sketch every time: cached numbers are reproducible
                u, _, v = torch.svd_lowrank(w, q=min(r_max + OVERSAMPLE, min(w.shape)), niter=NITER)
            self.u, self.v = u[:, :r_max], v[:, :r_max]


def matrix_metrics(base: _Basis, w_base: torch.Tensor, w_ckpt: torch.Tensor, svd: str) -> dict:
    """Every metric of one (base, checkpoint) pair of matrices."""
    m, n = w_base.shape
    sizes = subspace_sizes(m, n)
    k = min(m, n)
    rank, effective = update_ranks(w_ckpt.to(torch.float32) - w_base.to(torch.float32))
    ck = _Basis(w_ckpt, max(sizes), svd)
    out = {"rank_fraction": rank / k, "effective_rank_fraction": effective / k,
           "spectrum_shift": float(torch.linalg.vector_norm(ck.s.double() - base.s.double())
                                   / torch.linalg.vector_norm(base.s.double()))}
    for f, r in zip(FRACTIONS, sizes):
        for side, a, b in (("left", base.u, ck.u), ("right", base.v, ck.v)):
            angles = principal_angles(a[:, :r].double(), b[:, :r].double())
            out[f"{side}_angle_max@{f:.0%}"] = float(angles.max())
            out[f"{side}_angle_mean@{f:.0%}"] = float(angles.mean())
    return out


def choose_svd(svd: str) -> str:
    """``svd`` checked; "auto" is "full" (the module docstring says why)."""
    if svd not in ("auto", "full", "randomized"):
        raise WeightsError(f"unknown svd {svd!r}; valid: auto, full, randomized")
    return "full" if svd == "auto" else svd


def _stream(base: Path, ckpts: list[Path], wheres: dict, progress: bool, device: str, svd: str) -> dict:
    base_where = wheres[base]
    how = choose_svd(svd)
    rows: dict = {c: [] for c in ckpts}
    with ExitStack() as handles, torch.no_grad():
        opened: dict = {}
        todo = checked_matrices(base, ckpts, wheres, handles, opened)
        for name, layer, matrix in tqdm(todo, desc="ranks and rotations", unit="tensor", disable=not progress):
            w = _open(handles, opened, base_where[name]).get_tensor(name).to(device)
            if not torch.isfinite(w).all():
                raise WeightsError(f"base {base}: tensor {name!r} holds {nonfinite_summary(w)}")
            basis = _Basis(w, max(subspace_sizes(*w.shape)), how)
            for c in ckpts:
                wc = _open(handles, opened, wheres[c][name]).get_tensor(name).to(device)
                if not torch.isfinite(wc).all():
                    raise WeightsError(f"checkpoint {c}: tensor {name!r} holds {nonfinite_summary(wc)}")
                rows[c] += [{"layer": layer, "matrix": matrix, "metric": k, "value": v}
                            for k, v in matrix_metrics(basis, w, wc, how).items()]
    return rows


def compare(base, ckpts, labels: list[str] | None = None, use_cache: bool = True, progress: bool = True,
            device: str = "cpu", svd: str = "auto") -> pd.DataFrame:
    """The tidy table (``checkpoint, layer, matrix, metric, value``) of :data:`METRICS` for every
    checkpoint against ``base`` (local folders or hub ids); cached per pair (as the weight lens,
    :func:`scalpel_core.lenses.weights.cached_pairs`)."""
    choose_svd(svd)  # a bad name fails before any work
    return cached_pairs("spectra", (VERSION, svd), base, ckpts, labels, use_cache,
                        lambda base_dir, missing, wheres: _stream(base_dir, missing, wheres, progress, device, svd))


def pick(entries: list[dict], fractions) -> list[dict]:
    """The checkpoints nearest each of ``fractions`` of training (the base, step 0, never)."""
    trained = [e for e in entries if e["step"] > 0]
    if fractions is None:
        return trained
    chosen = {min(trained, key=lambda e: abs(e["fraction"] - f))["path"] for f in fractions}
    return [e for e in trained if e["path"] in chosen]


def run_table(run_dir: Path, progress: bool = True, fractions=(0.25, 0.5, 0.75, 1.0),
              svd: str = "auto") -> pd.DataFrame:
    """The checkpoints of a run nearest ``fractions`` of training (None: all) against its base,
    with ``run, step, fraction``."""
    entries = list_checkpoints(run_dir)
    chosen = pick(entries, fractions)
    table = compare(entries[0]["path"], [e["path"] for e in chosen], [e["path"].name for e in chosen],
                    progress=progress, svd=svd)
    return table.merge(steps_table(chosen), on="checkpoint").assign(run=Path(run_dir).name)
