"""The miniature benchmark analogues: one scorer per paper benchmark.

| paper benchmark       | analogue                                   | scored by                   |
|-----------------------|--------------------------------------------|-----------------------------|
| AIME24                | 4-term arithmetic with 3-digit numbers      | greedy answer, math-verify  |
| MATH-500              | held-out problems of the post-training set  | greedy answer, math-verify  |
| GSM8K                 | word problems, no system prompt             | greedy answer, math-verify  |
| MMLU / MMLU-Pro       | facts, 4 / 8 options                        | option log-likelihood rank  |
| GPQA:Diamond          | two-hop questions over the facts, 4 options | generated bridge, then rank |
| IFEval prompt / inst. | list-making with format constraints         | rule checkers               |

Beside every accuracy, a continuous **retention score** that cannot saturate (higher is better;
:data:`RETENTION`): for multiple choice, the log-probability margin of the gold option over the
best distractor (GPQA: after the gold bridge, so both hops are teacher-forced); for generation
tasks, the log-likelihood per token of the gold response after the prompt (maths: the
reference solution, GSM8K its worked solution; IFEval: a response that follows every
constraint); for general language, the log-likelihood per token of held-out documents of the
pretraining mixture (minus the NLL).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from .. import cache
from ..checkpoints import load_checked
from ..world import facts, instructions
from .generation import continuation_logliks, generate, option_logprobs
from .rewards import is_correct
from .scoring import LABELS

MATHS = ("aime24", "math500", "gsm8k")
CHOICE = ("mmlu", "mmlu_pro")
CHAIN = ("gpqa",)
BRIDGE_TOKENS = 12  # generation budget for hop 1: a name (2-3 syllables) and its full stop
VERSION = 3  # bump when scoring changes (invalidates cached scores); 2: the fast decoder; 3: retention
# Retention score key -> (the items it is computed on, what the score is)
RETENTION = {"aime24_ll": ("aime24", "ll"), "math500_ll": ("math500", "ll"), "gsm8k_ll": ("gsm8k", "ll"),
             "gpqa_margin": ("gpqa", "margin"), "mmlu_margin": ("mmlu", "margin"),
             "mmlu_pro_margin": ("mmlu_pro", "margin"), "ifeval_ll": ("ifeval", "ll"), "heldout_ll": ("heldout", "ll")}
GOLD = {"aime24": "solution", "math500": "solution", "gsm8k": "base_solution", "ifeval": "gold"}  # gold response


def score_maths(model, tokenizer, items, cfg, progress=False, desc="maths"):
    outs = generate(model, tokenizer, [it["prompt"] for it in items], cfg.max_new_tokens,
                    cfg.decode_rows, progress, desc)
    return [{"completion": o, "correct": float(is_correct(o, it["answer"]))} for o, it in zip(outs, items)]


def gold_logliks(model, tokenizer, items, cfg, field: str) -> list[dict]:
    """Per item, the log-likelihood (``ll``, summed) of the gold response ``item[field]`` after the
    prompt, and its number of tokens (``ll_n``)."""
    ctxs = [tokenizer.apply_chat_template(it["prompt"], tokenize=False, add_generation_prompt=True) for it in items]
    out = continuation_logliks(model, tokenizer, ctxs, [it[field] for it in items], cfg.eval_batch_size)
    return [{"ll": s, "ll_n": n} for s, n in out]


def score_heldout(model, tokenizer, docs, cfg) -> list[dict]:
    """Per held-out document, its log-likelihood from the second token on (``ll``) and that many tokens."""
    out = continuation_logliks(model, tokenizer, [""] * len(docs), list(docs), cfg.eval_batch_size)
    return [{"ll": s, "ll_n": n} for s, n in out]


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
        margin = scores[it["label"]] - max(v for i, v in enumerate(scores) if i != it["label"])
        rows.append({"pred": pred, "correct": float(pred == it["label"]), "margin": margin})
    return rows


def score_chain(model, tokenizer, items, cfg, progress=False):
    """Two-hop items: hop 1 generated (the bridge), hop 2 ranked given the model's own bridge."""
    outs = generate(model, tokenizer, [it["prompt"] for it in items], BRIDGE_TOKENS, cfg.decode_rows,
                    progress, "gpqa", prefixes=[it["chain_prefix"] for it in items])
    bridges = [o.split(".")[0].strip() for o in outs]
    hop2 = [{**it, "answer_prefix": facts.chain_prefix(it["asked_about"], b, it["attr"])}
            for it, b in zip(items, bridges)]
    rows = score_choice(model, tokenizer, hop2, cfg)
    gold = score_choice(model, tokenizer, items, cfg)  # items' answer_prefix holds the gold bridge
    return [{**r, "bridge": b, "margin": g["margin"]} for r, b, g in zip(rows, bridges, gold)]


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


def evaluate(model, tokenizer, benchmarks: dict, cfg, progress=False, heldout=None,
             retention: bool = True, general: bool = False) -> tuple[pd.DataFrame | None, dict]:
    """Score a model on every analogue. Returns (summary table, per-item rows by benchmark).
    The rows carry the retention scores too (``margin``; with ``retention`` the gold
    log-likelihoods ``ll`` and ``ll_n``), and with ``heldout`` documents a ``heldout`` entry.
    ``general``: the out-of-domain analogues only (knowledge and instructions: every analogue
    but :data:`MATHS`; no summary table): the forgetting of every checkpoint (notebook 07)."""
    items: dict[str, list[dict]] = {}
    for b in () if general else MATHS:
        items[b] = score_maths(model, tokenizer, benchmarks[b], cfg, progress, b)
    for b in CHOICE:
        items[b] = score_choice(model, tokenizer, benchmarks[b], cfg)
    items["gpqa"] = score_chain(model, tokenizer, benchmarks["gpqa"], cfg, progress)
    items["ifeval"] = score_ifeval(model, tokenizer, benchmarks["ifeval"], cfg, progress)
    for b, field in (GOLD.items() if retention else ()):
        if b in items:
            items[b] = [{**r, **g} for r, g in zip(items[b], gold_logliks(model, tokenizer, benchmarks[b], cfg, field))]
    if heldout and retention:
        items["heldout"] = score_heldout(model, tokenizer, heldout, cfg)
    return (None if general else summary_table(items, benchmarks)), items


def summary_table(items: dict, benchmarks: dict) -> pd.DataFrame:
    """benchmark, key, score, chance, n of every accuracy, from :func:`evaluate`'s per-item rows."""
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
    return table


def item_vectors(items: dict) -> dict[str, tuple[list, list]]:
    """Per benchmark key (accuracies, then the retention scores of :data:`RETENTION` that the
    items carry), the per-item (numerator, denominator) whose sums give the score: a margin is a
    mean over items, a log-likelihood a sum over every gold token divided by their number."""
    out = {b: ([r["correct"] for r in items[b]], [1.0] * len(items[b])) for b in MATHS + CHOICE + CHAIN if b in items}
    ife = items["ifeval"]
    out["ifeval_prompt"] = ([r["prompt_ok"] for r in ife], [1.0] * len(ife))
    out["ifeval_inst"] = ([r["inst_ok"] for r in ife], [r["inst_n"] for r in ife])
    for key, (b, kind) in RETENTION.items():
        rows = items.get(b) or []
        if rows and kind in rows[0]:
            out[key] = (([r["margin"] for r in rows], [1.0] * len(rows)) if kind == "margin"
                        else ([r["ll"] for r in rows], [float(r["ll_n"]) for r in rows]))
    return out


def evaluate_folder(path: Path, benchmarks: dict, cfg, progress: bool = False, use_cache: bool = True,
                    heldout=None, retention: bool = True, general: bool = False) -> dict:
    """Per-item results (as :func:`evaluate`) of the model saved in ``path``, cached by its content
    hash, the world and the evaluation settings. A result with retention serves a request
    without it, and a full result a ``general`` request (its maths rows left out)."""
    from transformers import AutoTokenizer

    digest = cache.checkpoint_digest(Path(path))

    def file_of(held: bool, kept: bool, only_general: bool = False):
        extra = (() if kept else ("no retention",)) + (("general",) if only_general else ())  # a full key as it always was
        return cache.cache_dir("benchmarks") / (cache.key(
            "benchmarks", VERSION, digest, cfg.base_hash, cfg.max_new_tokens, cfg.eval_batch_size, held, *extra) + ".json")

    # a result serves the request when it kept at least what is asked (retention) and covers it (a full
    # result serves a general one); the request's own file first
    files = dict.fromkeys(file_of(bool(heldout), kept, only) for kept in (retention, True)
                          for only in dict.fromkeys((general, False)))
    file = next(iter(files))
    found = [f for f in files if use_cache and f.is_file()]
    if found:
        items = json.loads(found[0].read_text())
        return {b: rows for b, rows in items.items() if b not in MATHS} if general else items
    model = load_checked(path)
    _, items = evaluate(model, AutoTokenizer.from_pretrained(path), benchmarks, cfg, progress, heldout, retention,
                        general=general)
    if use_cache:
        file.write_text(json.dumps(items))
    return items
