"""The miniature benchmark analogues: one scorer per paper benchmark.

| paper benchmark       | analogue                                   | scored by                   |
|-----------------------|--------------------------------------------|-----------------------------|
| AIME24                | 4-term arithmetic with 3-digit numbers      | greedy answer, math-verify  |
| MATH-500              | held-out problems of the post-training set  | greedy answer, math-verify  |
| GSM8K                 | word problems, no system prompt             | greedy answer, math-verify  |
| MMLU / MMLU-Pro       | facts, 4 / 8 options                        | option log-likelihood rank  |
| GPQA:Diamond          | two-hop questions over the facts, 4 options | generated bridge, then rank |
| IFEval prompt / inst. | list-making with format constraints         | rule checkers               |
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from .. import cache
from ..checkpoints import load_checked
from ..world import facts, instructions
from .generation import generate, option_logprobs
from .rewards import is_correct
from .scoring import LABELS

MATHS = ("aime24", "math500", "gsm8k")
CHOICE = ("mmlu", "mmlu_pro")
CHAIN = ("gpqa",)
BRIDGE_TOKENS = 12  # generation budget for hop 1: a name (2-3 syllables) and its full stop
VERSION = 2  # bump when scoring changes (invalidates cached scores); 2: the fast decoder


def score_maths(model, tokenizer, items, cfg, progress=False, desc="maths"):
    outs = generate(model, tokenizer, [it["prompt"] for it in items], cfg.max_new_tokens,
                    cfg.decode_rows, progress, desc)
    return [{"completion": o, "correct": float(is_correct(o, it["answer"]))} for o, it in zip(outs, items)]


def score_choice(model, tokenizer, items, cfg):
    ctxs, conts = [], []
    for it in items:
        ctx = tokenizer.apply_chat_template(it["prompt"], tokenize=False, add_generation_prompt=True)
        for opt in it["options"]:
            ctxs.append(ctx + it["answer_prefix"])
            conts.append(" " + opt)
    lp = option_logprobs(model, tokenizer, ctxs, conts, cfg.eval_batch_size)
    rows, k = [], 0
    for it in items:
        n = len(it["options"])
        scores = lp[k: k + n]
        k += n
        pred = max(range(n), key=scores.__getitem__)
        rows.append({"pred": pred, "correct": float(pred == it["label"])})
    return rows


def score_chain(model, tokenizer, items, cfg, progress=False):
    """Two-hop items: hop 1 generated (the bridge), hop 2 ranked given the model's own bridge."""
    outs = generate(model, tokenizer, [it["prompt"] for it in items], BRIDGE_TOKENS, cfg.decode_rows,
                    progress, "gpqa", prefixes=[it["chain_prefix"] for it in items])
    bridges = [o.split(".")[0].strip() for o in outs]
    hop2 = [{**it, "answer_prefix": facts.chain_prefix(it["asked_about"], b, it["attr"])}
            for it, b in zip(items, bridges)]
    rows = score_choice(model, tokenizer, hop2, cfg)
    return [{**r, "bridge": b} for r, b in zip(rows, bridges)]


def score_ifeval(model, tokenizer, items, cfg, progress=False):
    outs = generate(model, tokenizer, [it["prompt"] for it in items], cfg.max_new_tokens,
                    cfg.decode_rows, progress, "ifeval")
    rows = []
    for o, it in zip(outs, items):
        res = instructions.check(it["spec"], o)
        rows.append({"completion": o, "prompt_ok": float(all(res.values())),
                     "inst_ok": sum(res.values()), "inst_n": len(res)})
    return rows


def skill_scores(model, tokenizer, benchmarks: dict, cfg, n_maths: int = 100) -> dict:
    """Accuracy on the knowledge analogues and on the first ``n_maths`` MATH-500 problems: the
    skill against pretraining steps that the world's design was checked with (cheap: seconds)."""
    def acc(rows):
        return sum(r["correct"] for r in rows) / len(rows)

    return {"mmlu": acc(score_choice(model, tokenizer, benchmarks["mmlu"], cfg)),
            "mmlu_pro": acc(score_choice(model, tokenizer, benchmarks["mmlu_pro"], cfg)),
            "gpqa": acc(score_chain(model, tokenizer, benchmarks["gpqa"], cfg)),
            "math500": acc(score_maths(model, tokenizer, benchmarks["math500"][:n_maths], cfg))}


def chance_levels(benchmarks: dict) -> dict[str, float]:
    """What a model with no skill scores: 0 on maths, 1/options on choices, and on IFEval
    the score of a response that does the bare task but ignores every constraint."""
    out = {b: 0.0 for b in MATHS}
    for b in CHOICE + CHAIN:
        out[b] = sum(1 / len(it["options"]) for it in benchmarks[b]) / len(benchmarks[b])
    rng = random.Random(0)
    checks = [instructions.check(it["spec"], instructions.respond(it["spec"], rng, follow=False))
              for it in benchmarks["ifeval"]]
    out["ifeval_prompt"] = sum(all(c.values()) for c in checks) / len(checks)
    out["ifeval_inst"] = sum(sum(c.values()) for c in checks) / sum(len(c) for c in checks)
    return out


def evaluate(model, tokenizer, benchmarks: dict, cfg, progress=False) -> tuple[pd.DataFrame, dict]:
    """Score a model on every analogue. Returns (summary table, per-item rows by benchmark)."""
    items: dict[str, list[dict]] = {}
    for b in MATHS:
        items[b] = score_maths(model, tokenizer, benchmarks[b], cfg, progress, b)
    for b in CHOICE:
        items[b] = score_choice(model, tokenizer, benchmarks[b], cfg)
    items["gpqa"] = score_chain(model, tokenizer, benchmarks["gpqa"], cfg, progress)
    items["ifeval"] = score_ifeval(model, tokenizer, benchmarks["ifeval"], cfg, progress)
    chance = chance_levels(benchmarks)
    scores = {b: sum(r["correct"] for r in items[b]) / len(items[b]) for b in MATHS + CHOICE + CHAIN}
    ife = items["ifeval"]
    scores["ifeval_prompt"] = sum(r["prompt_ok"] for r in ife) / len(ife)
    scores["ifeval_inst"] = sum(r["inst_ok"] for r in ife) / sum(r["inst_n"] for r in ife)
    table = pd.DataFrame([
        {"benchmark": LABELS[b], "key": b, "score": scores[b], "chance": chance[b],
         "n": len(items["ifeval" if b.startswith("ifeval") else b])}
        for b in LABELS
    ])
    return table, items


def item_vectors(items: dict) -> dict[str, tuple[list, list]]:
    """Per benchmark key, the per-item (numerator, denominator) whose sums give the score."""
    out = {b: ([r["correct"] for r in items[b]], [1.0] * len(items[b])) for b in MATHS + CHOICE + CHAIN}
    ife = items["ifeval"]
    out["ifeval_prompt"] = ([r["prompt_ok"] for r in ife], [1.0] * len(ife))
    out["ifeval_inst"] = ([r["inst_ok"] for r in ife], [r["inst_n"] for r in ife])
    return out


def evaluate_folder(path: Path, benchmarks: dict, cfg, progress: bool = False, use_cache: bool = True) -> dict:
    """Per-item results (as :func:`evaluate`) of the model saved in ``path``, cached by its content
    hash, the world and the evaluation settings."""
    from transformers import AutoTokenizer

    file = cache.cache_dir("benchmarks") / (cache.key(
        "benchmarks", VERSION, cache.checkpoint_digest(Path(path)), cfg.base_hash, cfg.max_new_tokens,
        cfg.eval_batch_size) + ".json")
    if use_cache and file.is_file():
        return json.loads(file.read_text())
    model = load_checked(path)
    _, items = evaluate(model, AutoTokenizer.from_pretrained(path), benchmarks, cfg, progress)
    if use_cache:
        file.write_text(json.dumps(items))
    return items
