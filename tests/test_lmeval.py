"""lmeval.evaluate against local-data lm-eval tasks and the random smoke model (offline).

The model is random, so the checks are about the plumbing: lm-eval must rank the options
exactly as :func:`scalpel_core.eval.generation.option_logprobs` does, and the per-item scores
must come back in order, one per item, with the table's score as their mean.
"""

import json

import pytest

from scalpel_core.eval import lmeval
from scalpel_core.eval.generation import generate, option_logprobs

QUESTIONS = [  # (question, options): 8 items, split 5 + 3 over two subtasks of a nested group
    ("Which city lies on the river Vell?", ["Orsk", "Tamberly", "Quill", "Danor"]),
    ("What colour is the flag of Brenn?", ["red", "green", "blue", "white"]),
    ("Who founded the guild of glassmakers?", ["Ama", "Boris", "Celia", "Dov"]),
    ("How many moons has the planet Ilo?", ["one", "two", "three", "four"]),
    ("What does a marsh hare eat?", ["reeds", "fish", "seeds", "moss"]),
    ("Which metal is mined at Kestrel Hill?", ["tin", "copper", "silver", "iron"]),
    ("What is the capital of Ostra?", ["Lune", "Perth", "Varo", "Sedge"]),
    ("Which season brings the long rains?", ["spring", "summer", "autumn", "winter"]),
]
PATTERN = [1, 0, 1, 1, 0, 0, 1, 0]  # which items get the model's own top option as the answer
SPLIT = 5


def text(question):
    return f"Question: {question}\nAnswer:"  # the tasks' doc_to_text


def write_group(root, answers):
    """An mmlu-shaped nested group: local_mc > local_mc_sub > tag local_mc_tasks > two tasks."""
    docs = [{"question": q, "choices": c, "answer": a} for (q, c), a in zip(QUESTIONS, answers)]
    for name, part in (("local_mc_a", docs[:SPLIT]), ("local_mc_b", docs[SPLIT:])):
        data = root / f"{name}.jsonl"
        data.write_text("".join(json.dumps(d) + "\n" for d in part))
        (root / f"{name}.yaml").write_text(
            f"task: {name}\ntag: local_mc_tasks\ndataset_path: json\n"
            f"dataset_kwargs:\n  cache_dir: {root / 'hf-cache'}\n  data_files:\n    test: {data}\n"
            "test_split: test\n"
            "output_type: multiple_choice\n"
            'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
            "doc_to_choice: choices\ndoc_to_target: answer\n"
            "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
            "metadata:\n  version: 1.0\n")
    agg = "aggregate_metric_list:\n  - metric: acc\n    weight_by_size: true\nmetadata:\n  version: 1\n"
    (root / "_local_mc_sub.yaml").write_text("group: local_mc_sub\ntask:\n  - local_mc_tasks\n" + agg)
    (root / "_local_mc.yaml").write_text("group: local_mc\ntask:\n  - local_mc_sub\n" + agg)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def lm_eval_output(monkeypatch):
    """Keeps what lm_eval.simple_evaluate returned inside lmeval.evaluate, for a closer look."""
    import lm_eval

    seen, real = {}, lm_eval.simple_evaluate

    def spy(*args, **kwargs):
        seen["out"] = real(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(lm_eval, "simple_evaluate", spy)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("chat", [False, True])
def test_multiple_choice_matches_option_logprobs(tmp_path, offline, lm_eval_output, model_dir, random_model,
                                                 smoke_tokenizer, chat):
    tok = smoke_tokenizer
    if chat:
        # With a chat template lm-eval drops the target delimiter (the option follows the
        # generation prompt directly); as always, it then moves the context's trailing whitespace
        # (here the prompt's final "\n") onto the continuation before tokenising.
        full = [tok.apply_chat_template([{"role": "user", "content": text(q)}], tokenize=False,
                                        add_generation_prompt=True) for q, _ in QUESTIONS]
        requests = [(f, o) for f, (_, opts) in zip(full, QUESTIONS) for o in opts]
        assert all(f.endswith("\n") for f in full)
        lp = option_logprobs(random_model, tok, [c[:-1] for c, _ in requests], ["\n" + o for _, o in requests])
    else:  # context = doc_to_text, continuation = target_delimiter " " + option
        requests = [(text(q), " " + o) for q, opts in QUESTIONS for o in opts]
        lp = option_logprobs(random_model, tok, *map(list, zip(*requests)))
    top = [max(range(4), key=lambda j: lp[4 * i + j]) for i in range(len(QUESTIONS))]
    answers = [t if hit else (t + 1) % 4 for t, hit in zip(top, PATTERN)]
    write_group(tmp_path, answers)

    table, samples = lmeval.evaluate(model_dir, ["mmlu"], tasks={"mmlu": ("local_mc", "acc", "none")},
                                     include_path=tmp_path, device="cpu", dtype="float32",
                                     apply_chat_template=chat, batch_size=8)

    row = table.set_index("key").loc["mmlu"]
    assert row["benchmark"] == "MMLU" and row["n"] == len(QUESTIONS)
    assert samples["mmlu"] == ([float(p) for p in PATTERN], [1.0] * len(PATTERN))  # item by item, subtasks in order
    assert row["score"] == pytest.approx(sum(PATTERN) / len(PATTERN))
    assert 0 < row["stderr"] < 1
    logged = [s for t in ("local_mc_a", "local_mc_b")
              for s in sorted(lm_eval_output["out"]["samples"][t], key=lambda s: s["doc_id"])]
    assert [tuple(a) for s in logged for a in s["arguments"]] == requests  # the strings lm-eval scored
    assert [r[0][0] for s in logged for r in s["resps"]] == pytest.approx(lp, abs=1e-4)  # and their scores


@pytest.mark.slow
def test_generate_until_is_greedy_and_capped(tmp_path, offline, model_dir, random_model, smoke_tokenizer):
    prompts = ["Say a word.", "Name a river.", "Count to three."]
    outs = generate(random_model, smoke_tokenizer, [[{"role": "user", "content": p}] for p in prompts],
                    max_new_tokens=3, batch_size=1)
    targets = [outs[0], outs[1], outs[2] + " and more"]  # the model's own greedy text, bar the last
    data = tmp_path / "local_gen.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "target": t}) + "\n" for p, t in zip(prompts, targets)))
    (tmp_path / "local_gen.yaml").write_text(
        f"task: local_gen\ndataset_path: json\ndataset_kwargs:\n  cache_dir: {tmp_path / 'hf-cache'}\n"
        f"  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: generate_until\ndoc_to_text: prompt\ndoc_to_target: target\n"
        "generation_kwargs:\n  until: []\n  do_sample: true\n  temperature: 1.0\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
        "metadata:\n  version: 1.0\n")

    table, samples = lmeval.evaluate(model_dir, ["gsm8k"], tasks={"gsm8k": ("local_gen", "exact_match", "none")},
                                     include_path=tmp_path, device="cpu", dtype="float32",
                                     max_gen_toks=3, batch_size=1)

    assert samples["gsm8k"][0] == [1.0, 1.0, 0.0]  # greedy despite the task's do_sample, capped at 3 tokens
    assert table["score"].tolist() == [pytest.approx(2 / 3)] and table["n"].tolist() == [3]


def test_unknown_key_names_it():
    with pytest.raises(ValueError, match="mmlu_redux.*valid keys.*aime24"):
        lmeval.evaluate("unused", ["gsm8k", "mmlu_redux"])


@pytest.mark.slow
def test_tasks_match_the_installed_harness():
    """Every (task, metric, filter) in TASKS is one the installed lm-eval declares (no data needed)."""
    from lm_eval.tasks import TaskManager

    index = TaskManager().task_index
    assert set(lmeval.TASKS) == set(lmeval.LABELS)
    for key, (task, metric, filt) in lmeval.TASKS.items():
        cfg = index[task].cfg
        if "group" in cfg:  # a group reports its aggregate: metric and filter from aggregate_metric_list
            declared = {(m["metric"], m.get("filter_list", "none")) for m in cfg["aggregate_metric_list"]}
        else:
            filters = [f["name"] for f in cfg.get("filter_list", [])] or ["none"]
            declared = {(m["metric"], f) for m in cfg["metric_list"] for f in filters}
        assert (metric, filt) in declared, (key, task, sorted(declared))
