"""How far each weight matrix moved: ||W_ckpt - W_base|| per layer and matrix, streamed.

    scalpel weights BASE CKPT [CKPT ...] --out changes.csv     # any HF Llama/OLMo checkpoints
    table = weights.compare(base_dir, [ckpt_dir, ...])           # the same, from Python
    table = weights.run_table(run_dir)                           # a training run: 20 checkpoints vs its base

For every layer and every projection (q, k, v, o, gate, up, down; embeddings, lm_head and
norms excluded) three metrics, so the effect of the normalisation is visible:

- ``rel_frobenius``: ||W_ckpt - W_base||_F / ||W_base||_F   (the paper's metric)
- ``frobenius``:     ||W_ckpt - W_base||_F
- ``rms``:           ||W_ckpt - W_base||_F / sqrt(numel)

and, in the same single read of the files, three measures of how *sparse* the update is
(Mukherjee et al. 2025; ``SPARSITY``, fractions of the matrix's entries):

- ``frac_unchanged``:      bitwise equal in the stored dtype (float32 in the miniature, bf16 at paper scale)
- ``frac_unchanged_bf16``: equal after rounding both weights to bfloat16 (what a bf16 checkpoint would store)
- ``frac_within_tol``:     |w_ckpt - w_base| <= TOLERANCE * max(|w_base|, |w_ckpt|), TOLERANCE = 1e-3

``compare(..., metrics=...)`` picks which of them a table holds; the cache keeps all six.

Weights are read tensor by tensor from safetensors (one file or shards), as memory-mapped
views of the files, and compared in float32 one 1 MiB slice at a time: the base is read once
for all checkpoints, and no model is ever loaded (peak private memory ~0.3 GB for 1B-sized
checkpoints, see benchmarks/README.md). Each (base, checkpoint) pair is cached under the
content hashes of both (``scalpel_core.cache``).
"""

from __future__ import annotations

import math
import warnings
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import torch
from safetensors import safe_open
from tqdm.auto import tqdm

from .. import cache, paths
from ..arch import MATRICES, layer_index, matrix_type
from ..checkpoints import hub_unreachable, list_checkpoints, looks_local, nonfinite_summary, offline_note, steps_table
from ..config import ScalpelError

METRICS = ("rel_frobenius", "frobenius", "rms")  # how far: notebook 03, claims 3 and 4
SPARSITY = ("frac_unchanged", "frac_unchanged_bf16", "frac_within_tol")  # how sparse: notebook 06
TOLERANCE = 1e-3  # frac_within_tol's relative tolerance eta (the definition)
COLUMNS = ["checkpoint", "layer", "matrix", "metric", "value"]
VERSION = 4  # bump when a metric or its computation changes (invalidates the cache); 3: sliced sums; 4: sparsity
_BITS = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16, torch.float16: torch.int16}


class WeightsError(ScalpelError, ValueError):
    """Checkpoints that cannot be compared: missing, corrupt, of another architecture, or non-finite."""


def resolve(ref: str | Path) -> Path:
    """A local checkpoint folder, or a hub id downloaded (weights, config, tokenizer) to the HF cache."""
    path = Path(ref)
    if path.is_dir():
        return path.resolve()
    if path.exists() or looks_local(ref):
        raise WeightsError(f"checkpoint {ref} is not a folder (expected a Hugging Face model folder "
                           "with *.safetensors, or a hub id such as allenai/OLMo-2-1124-7B-Instruct)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(ref), allow_patterns=["*.safetensors", "*.json", "*.jinja", "*.model", "*.txt"]))
    except Exception as err:  # noqa: BLE001 - offline, gated, or no such repo: say which
        if hub_unreachable(err):
            raise WeightsError(f"model {ref} is not found locally and the hub is unreachable{offline_note()}; "
                               "pass a local path to a Hugging Face model folder instead") from err
        first = (str(err).strip().splitlines() or [""])[0]
        raise WeightsError(f"{ref} is neither a local folder nor a downloadable hub model "
                           f"({type(err).__name__}: {first}); pass a local path or a valid hub id") from err


def tensor_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it (reads headers only)."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise WeightsError(f"{folder} holds no *.safetensors weights (expected a Hugging Face model folder)")
    where: dict[str, Path] = {}
    for f in files:
        try:
            with safe_open(str(f), framework="pt") as h:
                where.update((k, f) for k in h.keys())
        except Exception as err:  # noqa: BLE001 - corrupt header, truncated file
            raise WeightsError(f"cannot read {f}: {err}") from err
    return where


def matrices(where: dict[str, Path]) -> list[tuple[str, int, str]]:
    """(tensor name, layer, matrix) of every projection weight, by layer then MATRICES order."""
    found = [(n, layer_index(n), matrix_type(n)) for n in where
             if n.endswith(".weight") and matrix_type(n) in MATRICES and layer_index(n) is not None]
    return sorted(found, key=lambda t: (t[1], MATRICES.index(t[2]), t[0]))


def _shape(handles: ExitStack, opened: dict, file: Path, name: str):
    return tuple(_open(handles, opened, file).get_slice(name).get_shape())


def _open(handles: ExitStack, opened: dict, file: Path):
    if file not in opened:
        opened[file] = handles.enter_context(safe_open(str(file), framework="pt"))
    return opened[file]


def _check_compatible(base: Path, base_where, ckpt: Path, where, handles, opened, todo) -> None:
    for name, _, _ in todo:
        if name not in where:
            raise WeightsError(f"checkpoint {ckpt} lacks tensor {name!r}, which the base {base} has: "
                               "both must be the same architecture")
        a, b = _shape(handles, opened, base_where[name], name), _shape(handles, opened, where[name], name)
        if a != b:
            raise WeightsError(f"tensor {name!r} is {list(b)} in checkpoint {ckpt} but {list(a)} in the base "
                               f"{base}: the checkpoints are of different architectures")
    extra = sorted({n for n, _, _ in matrices(where)} - {n for n, _, _ in todo})
    if extra:
        raise WeightsError(f"checkpoint {ckpt} has tensor {extra[0]!r} (and {len(extra) - 1} more) that the "
                           f"base {base} lacks: both must be the same architecture")


def checked_matrices(base: Path, ckpts: list[Path], wheres: dict, handles: ExitStack, opened: dict) -> list:
    """The base's projection matrices (:func:`matrices`), after checking that every checkpoint has
    each of them in the same shape and no other (a :class:`WeightsError` naming the first difference)."""
    todo = matrices(wheres[base])
    if not todo:
        raise WeightsError(f"{base} has no per-layer projection weights (expected Llama/OLMo names such as "
                           "model.layers.0.self_attn.q_proj.weight)")
    for c in ckpts:
        _check_compatible(base, wheres[base], c, wheres[c], handles, opened, todo)
    return todo


# Elements per step on CPU: a 1 MiB float32 slice of the base stays in cache while the same
# slice of every checkpoint is subtracted from it (benchmarks/README.md: 4x over whole tensors).
CHUNK = 1 << 18


def _square_sums(w: torch.Tensor, cs: list[torch.Tensor], chunk: int) -> tuple[float, list[float], list[list[int]]]:
    """sum(w^2), sum((c - w)^2) for each c, and each c's counts of entries (bitwise unchanged,
    unchanged in bf16, within ``TOLERANCE``), in float32 slices, sums accumulated in float64.

    ``w`` and ``cs`` may be memory-mapped views of the files: they are never written to
    (safetensors hands out the same memory for repeated reads of one tensor).
    """
    w, cs = w.reshape(-1), [c.reshape(-1) for c in cs]
    w_sq, d_sq, counts = 0.0, [0.0] * len(cs), [[0, 0, 0] for _ in cs]
    for s in range(0, w.numel(), chunk):
        raw = w[s: s + chunk]
        wc = raw.to(torch.float32)
        w_sq += torch.dot(wc, wc).item()
        w16 = raw.to(torch.bfloat16)
        for i, c in enumerate(cs):
            craw = c[s: s + chunk]
            dc = torch.sub(craw, wc)  # out of place, promoted to float32
            d_sq[i] += torch.dot(dc, dc).item()
            if craw.dtype == raw.dtype and raw.dtype in _BITS:  # the same bits, not merely equal values
                same = torch.eq(craw.view(_BITS[raw.dtype]), raw.view(_BITS[raw.dtype]))
            else:
                same = torch.eq(craw, raw)
            cc = craw.to(torch.float32)
            counts[i][0] += int(same.sum())
            counts[i][1] += int(torch.eq(craw.to(torch.bfloat16), w16).sum())
            counts[i][2] += int((dc.abs() <= TOLERANCE * torch.maximum(wc.abs(), cc.abs())).sum())
    return w_sq, d_sq, counts


def _stream(base: Path, ckpts: list[Path], wheres: dict[Path, dict[str, Path]], progress: bool,
            device: str = "cpu") -> dict[Path, list[dict]]:
    """One pass over the base's projection tensors, every checkpoint's tensor read beside it,
    slice by slice: the base is read once however many checkpoints there are. ``wheres``:
    :func:`tensor_files` of the base and of every checkpoint."""
    base_where = wheres[base]
    rows: dict[Path, list[dict]] = {c: [] for c in ckpts}
    with ExitStack() as handles, torch.no_grad():
        opened: dict = {}
        todo = checked_matrices(base, ckpts, wheres, handles, opened)
        for name, layer, matrix in tqdm(todo, desc="weight changes", unit="tensor", disable=not progress):
            w = _open(handles, opened, base_where[name]).get_tensor(name).to(device)
            cs = [_open(handles, opened, wheres[c][name]).get_tensor(name).to(device) for c in ckpts]
            w_sq, d_sq, counts = _square_sums(w, cs, CHUNK if device == "cpu" else w.numel())
            if not math.isfinite(w_sq):
                raise WeightsError(f"base {base}: tensor {name!r} holds {nonfinite_summary(w)}")
            if w_sq == 0:
                warnings.warn(f"base tensor {name!r} is all zeros: its relative change is undefined (NaN)")
            for c, t, sq, n in zip(ckpts, cs, d_sq, counts):
                if not math.isfinite(sq):
                    raise WeightsError(f"checkpoint {c}: tensor {name!r} holds {nonfinite_summary(t)}")
                fro = math.sqrt(sq)
                rel = fro / math.sqrt(w_sq) if w_sq else float("nan")
                rows[c] += [{"layer": layer, "matrix": matrix, "metric": "rel_frobenius", "value": rel},
                            {"layer": layer, "matrix": matrix, "metric": "frobenius", "value": fro},
                            {"layer": layer, "matrix": matrix, "metric": "rms", "value": fro / math.sqrt(w.numel())}]
                rows[c] += [{"layer": layer, "matrix": matrix, "metric": m, "value": k / w.numel()}
                            for m, k in zip(SPARSITY, n)]
    return rows


def compare(base, ckpts, labels: list[str] | None = None, use_cache: bool = True,
            progress: bool = True, device: str = "cpu", metrics=METRICS) -> pd.DataFrame:
    """The tidy table (``checkpoint, layer, matrix, metric, value``) of every checkpoint against ``base``.

    ``base`` and ``ckpts`` are local folders or hub ids; ``labels`` name the checkpoints in the
    table (default: as given). Only pairs missing from the cache are computed; ``device``
    (e.g. ``cuda``) is where the differences are taken. ``metrics``: which rows the table holds
    (:data:`METRICS`, :data:`SPARSITY` or both); one read computes and caches them all.
    """
    unknown = sorted(set(metrics) - set(METRICS + SPARSITY))
    if unknown:
        raise WeightsError(f"unknown weight metric(s) {unknown}; valid: {', '.join(METRICS + SPARSITY)}")
    table = cached_pairs("weights", (VERSION,), base, ckpts, labels, use_cache,
                         lambda base_dir, missing, wheres: _stream(base_dir, missing, wheres, progress, device))
    return table[table.metric.isin(list(metrics))].reset_index(drop=True)


def cached_pairs(kind: str, key: tuple, base, ckpts, labels, use_cache: bool, stream) -> pd.DataFrame:
    """The tidy table of a streamed lens (``kind``: its cache folder; ``key``: its version and
    settings) over (base, checkpoint) pairs: pairs in the cache are read, the rest computed by
    ``stream(base_dir, missing_dirs, wheres)`` (-> rows per folder) in one pass and cached."""
    labels = list(labels) if labels is not None else [str(c) for c in ckpts]
    if len(labels) != len(ckpts):
        raise ValueError(f"{len(labels)} labels for {len(ckpts)} checkpoints")
    base_dir = resolve(base)
    dirs = [resolve(c) for c in ckpts]
    # headers read once; a folder without readable safetensors fails here, named, before any hashing
    wheres = {d: tensor_files(d) for d in dict.fromkeys([base_dir, *dirs])}
    keys = {}
    if use_cache:
        base_digest = cache.checkpoint_digest(base_dir)
        keys = {d: cache.key(kind, *key[:1], base_digest, cache.checkpoint_digest(d), *key[1:]) for d in dirs}
    store = cache.cache_dir(kind)
    found = {d: pd.read_parquet(store / f"{keys[d]}.parquet") for d in dirs
             if use_cache and (store / f"{keys[d]}.parquet").is_file()}
    missing = list(dict.fromkeys(d for d in dirs if d not in found))
    if missing:
        for d, rows in stream(base_dir, missing, wheres).items():
            found[d] = pd.DataFrame(rows)
            if use_cache:
                found[d].to_parquet(store / f"{keys[d]}.parquet", index=False)
    parts = [found[d].assign(checkpoint=label) for d, label in zip(dirs, labels)]
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def run_table(run_dir: Path, progress: bool = True, metrics=METRICS) -> pd.DataFrame:
    """Every checkpoint of a training run against its step-0 base (the base itself included, as
    the 0% point), with ``run, step, fraction``; ``metrics`` as for :func:`compare`."""
    entries = list_checkpoints(run_dir)
    table = compare(entries[0]["path"], [e["path"] for e in entries], [e["path"].name for e in entries],
                    progress=progress, metrics=metrics)
    return table.merge(steps_table(entries), on="checkpoint").assign(run=Path(run_dir).name)


def check_out(out) -> Path:
    """``out`` as a path, if its extension says CSV or parquet and it can be written (checked
    before any work)."""
    out = Path(out)
    if out.suffix not in (".csv", ".parquet"):
        raise WeightsError(f"--out {out}: the extension must be .csv or .parquet")
    return paths.check_writable(out, "--out")


def write(table: pd.DataFrame, out: Path) -> Path:
    """Write ``table`` as CSV or parquet, by ``out``'s extension."""
    out = check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    return out
