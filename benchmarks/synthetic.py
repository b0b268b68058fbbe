"""Synthetic OLMo-2 checkpoints for the benchmarks: real shapes and names, random bf16 weights.

    python benchmarks/synthetic.py --shape 1b --checkpoints 2     # builds artifacts/bench/olmo2-1b/

The base is random (normal, std 0.02); each checkpoint adds a random update of std 3e-4
(a relative change of ~0.015, the paper's SFT-1ep level, well above bf16's rounding) to
every tensor. Weights go into
sharded safetensors with an index and a config.json, so ``from_pretrained`` loads them (the
naive baseline needs that). Built once per shape and seed, then reused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scalpel_core import paths  # noqa: E402

# OLMo-2 shapes (paper: 7B; issue: a 1B shape that fits a 2-core, 24 GiB machine).
SHAPES = {
    "1b": dict(num_hidden_layers=16, hidden_size=2048, num_attention_heads=16, num_key_value_heads=16,
               intermediate_size=8192, vocab_size=100352),
    "7b": dict(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32, num_key_value_heads=32,
               intermediate_size=11008, vocab_size=100352),
    "test": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, num_key_value_heads=2,
                 intermediate_size=128, vocab_size=512),
}
SHARD_BYTES = 1 << 30  # 1 GiB shards, like the hub's OLMo-2 checkpoints (several files per model)


def config(shape: str):
    from transformers import Olmo2Config

    return Olmo2Config(**SHAPES[shape], max_position_embeddings=4096, tie_word_embeddings=False,
                       torch_dtype="bfloat16", bos_token_id=None, pad_token_id=1, eos_token_id=2)


def shapes(shape: str) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the model, without allocating it (meta device)."""
    from transformers import Olmo2ForCausalLM

    with torch.device("meta"):
        model = Olmo2ForCausalLM(config(shape))
    return {n: tuple(p.shape) for n, p in model.state_dict().items()}


def _write(folder: Path, tensors, cfg) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shards, current, size = [], {}, 0
    for name, t in tensors:
        if current and size + t.numel() * t.element_size() > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name] = t
        size += t.numel() * t.element_size()
    shards.append(current)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, folder / file, metadata={"format": "pt"})
        weight_map |= {n: file for n in shard}
        total += sum(t.numel() * t.element_size() for t in shard.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    cfg.save_pretrained(folder)


def build(shape: str = "1b", n_checkpoints: int = 2, seed: int = 0) -> tuple[Path, list[Path]]:
    """(base folder, checkpoint folders) under ``artifacts/bench/olmo2-{shape}-s{seed}/``."""
    root = paths.artifacts_dir() / "bench" / f"olmo2-{shape}-s{seed}"
    base, ckpts = root / "base", [root / f"ckpt-{k}" for k in range(1, n_checkpoints + 1)]
    cfg, names = config(shape), shapes(shape)
    done = [f for f in [base, *ckpts] if (f / "config.json").is_file()]
    if len(done) == 1 + n_checkpoints:
        return base, ckpts

    def tensors(k: int):
        g = torch.Generator().manual_seed(seed)
        for name, shp in names.items():
            w = torch.randn(shp, generator=g).mul_(0.02) if "norm" not in name else torch.ones(shp)
            if k:
                w.add_(torch.randn(shp, generator=torch.Generator().manual_seed(seed * 1000 + k)), alpha=3e-4)
            yield name, w.to(torch.bfloat16)

    for k, folder in enumerate([base, *ckpts]):
        if not (folder / "config.json").is_file():
            print(f"[synthetic] writing {folder}", flush=True)
            _write(folder, tensors(k), cfg)
    return base, ckpts


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).glob("*.safetensors"))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="1b", choices=SHAPES)
    p.add_argument("--checkpoints", type=int, default=2)
    args = p.parse_args()
    base, ckpts = build(args.shape, args.checkpoints)
    print(base, *ckpts, sep="\n")
