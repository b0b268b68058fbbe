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

    # and the retention scores the miniature computes (scoring.RETENTION_LABELS), from the same run
    table, samples = lmeval.evaluate(path, ["mmlu"], retention=["mmlu_margin", "math500_ll", "heldout_ll"])

Retention comes from the harness's own per-sample log-likelihoods (``log_samples``), not from a
second scorer beside it (:data:`RETENTION`): a multiple-choice task's per-option log-likelihoods
give the gold option's margin over the best distractor; a ``loglikelihood`` task on a benchmark's
reference solution (written here, :func:`gold_task`) gives the gold response's log-likelihood per
token; the harness's perplexity task ``wikitext`` gives held-out text's. Token counts are the
harness's own tokenisation of what it scored. IFEval has no reference responses, so ``ifeval_ll``
needs ``gold_files={"ifeval_ll": "responses.jsonl"}`` (rows ``prompt``, ``response``).

The datasets come from the Hugging Face hub (or its local cache with ``HF_DATASETS_OFFLINE=1``);
``limit`` caps the items per task for a quick look.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from .scoring import LABELS, label

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


# Retention score key (scoring.RETENTION_LABELS) -> (lm-eval task, kind), from the task's logged samples:
# "margin": a multiple_choice task, the gold option's log-likelihood minus the best distractor's (a mean over items);
# "ll": a loglikelihood task, the gold response's log-likelihood after the prompt (summed over items, per token);
# "rolling": a loglikelihood_rolling (perplexity) task, a document's log-likelihood (summed, per token).
RETENTION = {
    "aime24_ll": ("scalpel_aime24_gold", "ll"),
    "math500_ll": ("scalpel_math500_gold", "ll"),
    "gsm8k_ll": ("scalpel_gsm8k_gold", "ll"),
    "gpqa_margin": ("gpqa_diamond_zeroshot", "margin"),  # the accuracy run's own samples
    "mmlu_margin": ("mmlu", "margin"),  # likewise
    "mmlu_pro_margin": ("leaderboard_mmlu_pro", "margin"),  # MMLU-Pro's 10 options ranked (the accuracy is CoT)
    "heldout_ll": ("wikitext", "rolling"),  # wikitext-2 documents: the harness's perplexity task
}
# The gold-response tasks, written by :func:`gold_task` when evaluating: a benchmark's reference
# solution (``response``) after its problem (``prompt``), zero-shot, the same data as its accuracy task.
GOLD = {
    "scalpel_aime24_gold": {"dataset_path": "Maxwell-Jia/AIME_2024", "split": "train",
                            "prompt": "Problem", "response": "Solution"},
    "scalpel_math500_gold": {"dataset_path": "HuggingFaceH4/MATH-500", "split": "test",
                             "prompt": "problem", "response": "solution"},
    "scalpel_gsm8k_gold": {"dataset_path": "openai/gsm8k", "dataset_name": "main", "split": "test",
                           "prompt": "question", "response": "answer"},  # the worked solution, '#### N' included
}


def gold_task(name: str, *, prompt: str, response: str, dataset_path: str = "json", dataset_name: str | None = None,
              split: str = "test", data_files: str | Path | None = None, cache_dir: str | Path | None = None) -> str:
    """The YAML of an lm-eval ``loglikelihood`` task scoring column ``response`` after column
    ``prompt`` (a user turn under the chat template), from a hub dataset or local ``data_files``."""
    cfg: dict = {"task": name, "dataset_path": dataset_path}
    if dataset_name:
        cfg["dataset_name"] = dataset_name
    kwargs = {**({"cache_dir": str(cache_dir)} if cache_dir else {}),
              **({"data_files": {split: str(data_files)}} if data_files else {})}
    if kwargs:
        cfg["dataset_kwargs"] = kwargs
    cfg.update({"test_split": split, "output_type": "loglikelihood", "num_fewshot": 0,
                "doc_to_text": "{{" + prompt + "}}", "doc_to_target": "{{" + response + "}}",
                "metric_list": [{"metric": "perplexity", "aggregation": "perplexity", "higher_is_better": False}],
                "metadata": {"version": 1.0}})
    return yaml.safe_dump(cfg, sort_keys=False)


def _gold_index(sample: dict) -> int:
    """The gold option of a multiple-choice sample: its target, an index or an option's text."""
    target = sample["target"]
    target = target[0] if isinstance(target, list) else target
    if isinstance(target, str):
        options = [cont.strip() for _, cont in sample["arguments"]]
        if target.strip() in options:  # GPQA's "(B)", MMLU-Pro's "B"
            return options.index(target.strip())
    return int(target)


def _loglik(resp) -> float:
    return float(resp[0] if isinstance(resp, (list, tuple)) else resp)  # (ll, is_greedy), or a rolling ll


def _retention_vectors(kind: str, samples: list[dict], lm) -> tuple[list[float], list[float]]:
    """Per item, the (numerator, denominator) of a retention score from the logged samples."""
    num: list[float] = []
    den: list[float] = []
    for s in samples:
        lls = [_loglik(r) for r in s["filtered_resps"]]
        if kind == "margin":
            gold = _gold_index(s)
            num.append(lls[gold] - max(v for i, v in enumerate(lls) if i != gold))
            den.append(1.0)
        elif kind == "ll":
            ctx, cont = s["arguments"][0]
            n = len(lm.tok_encode(cont)) if ctx == "" else len(lm._encode_pair(ctx, cont)[1])
            num.append(lls[0])
            den.append(float(n))
        elif kind == "rolling":
            num.append(lls[0])
            den.append(float(len(lm.tok_encode(s["arguments"][0][0]))))  # every token, the first after the prefix
        else:
            raise ValueError(f"unknown retention kind {kind!r}; valid: margin, ll, rolling")
    return num, den


def _leaves(name: str, group_subtasks: dict) -> list[str]:
    """The leaf tasks under ``name`` (itself when it is a task, not a group), in order."""
    children = group_subtasks.get(name) or []
    return [leaf for c in children for leaf in _leaves(c, group_subtasks)] if children else [name]


def _number(x) -> float:
    return float(x) if isinstance(x, (int, float)) else math.nan  # lm-eval writes "N/A" for no stderr


def evaluate(model_path, keys=None, *, tasks=None, include_path=None, batch_size=8, device=None,
             dtype="bfloat16", max_gen_toks=1500, limit=None, apply_chat_template=True,
             log_samples=True, retention=(), retention_tasks=None, gold_files=None,
             ) -> tuple[pd.DataFrame, dict[str, tuple[list[float], list[float]]]]:
    """Score ``model_path`` on ``keys`` (default: all of ``tasks``, itself default :data:`TASKS`),
    and on the ``retention`` keys of ``retention_tasks`` (default :data:`RETENTION`, its gold tasks
    :data:`GOLD`) in the same harness run; ``gold_files``: retention key -> a local JSON-lines file
    of ``prompt`` and ``response`` rows, scored as the gold response (e.g. ``ifeval_ll``).

    Returns the table (benchmark, key, score, stderr, n) and, per key, the per-document
    (numerator, denominator) lists read from the logged samples (a group's subtasks
    concatenated), the shape :func:`scalpel_core.eval.scoring.score_table` bootstraps: 0/1 and 1
    for accuracies; for ``ifeval_inst`` the instructions followed and given per prompt; for a
    retention key, a margin and 1 per item, or a log-likelihood and its number of tokens.
    """
    spec = TASKS if tasks is None else tasks
    keys = list(spec) if keys is None else list(keys)
    unknown = [k for k in keys if k not in spec]
    if unknown:
        raise ValueError(f"unknown benchmark key(s) {unknown}; valid keys: {sorted(spec)}")
    gold_files = {k: Path(f) for k, f in (gold_files or {}).items()}
    rspec = {**(RETENTION if retention_tasks is None else retention_tasks),
             **{k: (f"scalpel_{k}_gold", "ll") for k in gold_files}}
    retention = list(dict.fromkeys([*retention, *gold_files]))
    unknown = [k for k in retention if k not in rspec]
    if unknown:
        raise ValueError(f"unknown retention key(s) {unknown}; valid keys: {sorted(rspec)}")
    missing = [f"{k}: {f}" for k, f in gold_files.items() if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"gold response file(s) not found: {', '.join(missing)}")
    if retention and not log_samples:
        raise ValueError("retention scores are read from the logged samples: keep log_samples=True")

    import lm_eval  # slow import: only when evaluating
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    # ifeval once for both of its keys; mmlu once for its accuracy and its margin
    names = list(dict.fromkeys([*(spec[k][0] for k in keys), *(rspec[k][0] for k in retention)]))
    model_args = {"pretrained": str(model_path), "dtype": dtype}
    # the model built here (as simple_evaluate would) so that its tokeniser counts the scored tokens
    lm = get_model("hf").create_from_arg_obj(model_args, {"batch_size": batch_size, "device": device})
    with tempfile.TemporaryDirectory(prefix="scalpel-lmeval-tasks-") as gold_dir:
        for name in names:
            if name in GOLD:
                Path(gold_dir, f"{name}.yaml").write_text(gold_task(name, **GOLD[name]))
        for k, f in gold_files.items():
            Path(gold_dir, f"scalpel_{k}_gold.yaml").write_text(
                gold_task(f"scalpel_{k}_gold", prompt="prompt", response="response", data_files=f.resolve(),
                          cache_dir=Path(gold_dir, "hf-cache")))
        # simple_evaluate hands model_args to the tasks as metadata only when it builds the TaskManager
        manager = TaskManager(include_path=[gold_dir, *([str(include_path)] if include_path else [])],
                              metadata=model_args)
        out = lm_eval.simple_evaluate(
            model=lm, model_args=model_args, tasks=names,
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
    for k in retention:
        task, kind = rspec[k]
        leaves = _leaves(task, out.get("group_subtasks", {}))
        logged = [s for t in leaves for s in sorted((s for s in out["samples"][t] if s["filter"] == "none"),
                                                     key=lambda s: s["doc_id"])]
        samples[k] = num, den = _retention_vectors(kind, logged, lm)
        rows.append({"benchmark": label(k), "key": k, "score": sum(num) / sum(den) if num else math.nan,
                     "stderr": math.nan, "n": len(num)})
    return pd.DataFrame(rows, columns=["benchmark", "key", "score", "stderr", "n"]), samples
