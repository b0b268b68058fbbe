"""The paper's standard benchmarks, run through lm-evaluation-harness at paper scale.

The miniature analogues live in :mod:`scalpel_core.eval.analogues`; this module scores a real
Hugging Face checkpoint (a hub id or a saved folder) on the real benchmarks with the
installed harness's own task definitions: greedy decoding, the model's chat template,
the tasks' default few-shot counts, and generations capped at ``max_gen_toks``::

    from scalpel_core.eval import lmeval

    table, samples = lmeval.evaluate("allenai/OLMo-2-1124-7B-Instruct", ["gsm8k", "ifeval_prompt"],
                                     device="cuda", batch_size=16)
    print(table)                 # benchmark, key, score, stderr, n
    samples["gsm8k"][0][:5]      # per-item 0/1 scores (and [1] the denominators), for bootstrap intervals

The datasets come from the Hugging Face hub (or its local cache with ``HF_DATASETS_OFFLINE=1``);
``limit`` caps the items per task for a quick look.
"""

from __future__ import annotations

import math

import pandas as pd

from .scoring import LABELS

# benchmark key -> (lm-eval task name, metric, filter); results read as f"{metric},{filter}".
TASKS = {
    "aime24": ("aime24", "exact_match", "none"),  # aime/aime24.yaml: process_results, no filter
    "math500": ("minerva_math500", "math_verify", "none"),  # minerva_math500.yaml: math-verify equivalence, 4-shot
    "gsm8k": ("gsm8k", "exact_match", "flexible-extract"),  # gsm8k.yaml: last number in the answer, 5-shot
    "gpqa": ("gpqa_diamond_zeroshot", "acc", "none"),  # gpqa/zeroshot: option log-likelihood rank
    "mmlu": ("mmlu", "acc", "none"),  # group of 57 subjects, weighted by size; log-likelihood rank
    "mmlu_pro": ("mmlu_pro", "exact_match", "custom-extract"),  # group of 14; 'answer is (X)', 5-shot CoT
    "ifeval_prompt": ("ifeval", "prompt_level_strict_acc", "none"),  # all of a prompt's instructions
    "ifeval_inst": ("ifeval", "inst_level_strict_acc", "none"),  # each instruction on its own
}


def _leaves(name: str, group_subtasks: dict) -> list[str]:
    """The leaf tasks under ``name`` (itself when it is a task, not a group), in order."""
    children = group_subtasks.get(name) or []
    return [leaf for c in children for leaf in _leaves(c, group_subtasks)] if children else [name]


def _number(x) -> float:
    return float(x) if isinstance(x, (int, float)) else math.nan  # lm-eval writes "N/A" for no stderr


def evaluate(model_path, keys=None, *, tasks=None, include_path=None, batch_size=8, device=None,
             dtype="bfloat16", max_gen_toks=1500, limit=None, apply_chat_template=True,
             log_samples=True) -> tuple[pd.DataFrame, dict[str, tuple[list[float], list[float]]]]:
    """Score ``model_path`` on ``keys`` (default: all of ``tasks``, itself default :data:`TASKS`).

    Returns the table (benchmark, key, score, stderr, n) and, per key, the per-document
    (numerator, denominator) lists read from the logged samples (a group's subtasks
    concatenated), the shape :func:`scalpel_core.eval.scoring.score_table` bootstraps: 0/1 and 1
    for accuracies; for ``ifeval_inst`` the instructions followed and given per prompt.
    """
    spec = TASKS if tasks is None else tasks
    keys = list(spec) if keys is None else list(keys)
    unknown = [k for k in keys if k not in spec]
    if unknown:
        raise ValueError(f"unknown benchmark key(s) {unknown}; valid keys: {sorted(spec)}")

    import lm_eval  # slow import: only when evaluating
    from lm_eval.tasks import TaskManager

    names = list(dict.fromkeys(spec[k][0] for k in keys))  # ifeval once for both of its keys
    model_args = {"pretrained": str(model_path), "dtype": dtype}
    # simple_evaluate hands model_args to the tasks as metadata only when it builds the TaskManager
    manager = TaskManager(include_path=str(include_path), metadata=model_args) if include_path else None
    out = lm_eval.simple_evaluate(
        model="hf", model_args=model_args, tasks=names,
        batch_size=batch_size, device=device, limit=limit, log_samples=log_samples,
        apply_chat_template=apply_chat_template,
        gen_kwargs={"do_sample": False, "temperature": 0.0, "max_gen_toks": max_gen_toks},
        task_manager=manager,
    )
    rows, samples = [], {}
    for k in keys:
        task, metric, filt = spec[k]
        res = out["results"][task]
        leaves = _leaves(task, out.get("group_subtasks", {}))
        rows.append({"benchmark": LABELS.get(k, k), "key": k, "score": _number(res[f"{metric},{filt}"]),
                     "stderr": _number(res.get(f"{metric}_stderr,{filt}")),
                     "n": sum(out["n-samples"][t]["effective"] for t in leaves)})
        if log_samples:
            num: list[float] = []
            den: list[float] = []
            for t in leaves:
                for s in sorted((s for s in out["samples"][t] if s["filter"] == filt), key=lambda s: s["doc_id"]):
                    v = s[metric]  # a list for instruction-level IFEval: one 0/1 per instruction
                    num.append(float(sum(v)) if isinstance(v, list) else float(v))
                    den.append(float(len(v)) if isinstance(v, list) else 1.0)
            samples[k] = (num, den)
    return pd.DataFrame(rows, columns=["benchmark", "key", "score", "stderr", "n"]), samples
