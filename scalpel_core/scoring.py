"""Score final models on every benchmark, in either world (notebooks 02 and 05).

    vectors, items = scoring.score_models({"base": base_dir, "grpo": ckpt_dir}, cfg, progress=True)

The miniature world scores its analogues (``benchmarks.evaluate_folder``, cached by content hash);
paper scale runs lm-evaluation-harness (``lmeval.evaluate``). Either way the result is, per model,
the per-item ``(num, den)`` vectors that ``benchmarks.score_table`` and ``benchmarks.deltas`` take.
"""

from __future__ import annotations

from pathlib import Path

from . import benchmarks


def score_models(models: dict[str, Path], cfg, progress: bool = False, lm_eval_limit: int = 0):
    """``(vectors, items)``: model -> {key: (num, den)}, and model -> per-item records (the
    miniature world's completions; ``None`` at paper scale, where lm-eval keeps its own logs)."""
    if cfg.world == "mini":
        from .world.build import build_world

        world = build_world(cfg)
        items = {name: benchmarks.evaluate_folder(path, world.benchmarks, cfg, progress)
                 for name, path in models.items()}
        return {name: benchmarks.item_vectors(it) for name, it in items.items()}, items
    from . import lmeval

    vectors = {}
    for name, path in models.items():
        _, vectors[name] = lmeval.evaluate(path, max_gen_toks=cfg.max_new_tokens, batch_size=cfg.eval_batch_size,
                                           limit=lm_eval_limit or None)
    return vectors, None
