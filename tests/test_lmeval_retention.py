"""Retention at paper scale: lm-evaluation-harness's logged samples give the miniature's retention keys.

Local task files written here (multiple choice with index and letter targets, a gold-response
``loglikelihood`` task written by :func:`lmeval.gold_task`, a ``loglikelihood_rolling`` perplexity
task) and the random smoke model: the margins and per-token log-likelihoods read from lm-eval's
samples must equal a direct computation with the model, and the claim checks must read the
paper-scale tables (through :func:`worlds.score_models`) as they read the miniature's.
"""

import json

import pytest
import torch

from scalpel_core import config, worlds
from scalpel_core.eval import analogues, lmeval, scoring
from scalpel_core.eval.generation import continuation_logliks
from scalpel_core.report import claims

QUESTIONS = [("Which city lies on the river Vell?", ["Orsk", "Tamberly", "Quill", "Danor"], 2),
             ("What colour is the flag of Brenn?", ["red", "green", "blue", "white"], 0),
             ("How many moons has the planet Ilo?", ["one", "two", "three", "four"], 3),
             ("What does a marsh hare eat?", ["reeds", "fish", "seeds", "moss"], 1)]
LETTERS = ["(A)", "(B)", "(C)", "(D)"]
PROBLEMS = [("What is 2 + 3?", "2 plus 3 gives 5. The answer is 5."),
            ("What is 7 - 4?", "7 take away 4 leaves 3, so the answer is 3."),
            ("Double 6.", "6 twice is 12.")]
DOCS = ["The river Vell runs past Orsk to the sea.", "Marsh hares eat reeds in the long rains.",
        "Glassmakers of Brenn fire their kilns at night."]


def write_tasks(root):
    """Local stand-ins: local_mc (MMLU-shaped, index targets), local_letters (GPQA-shaped, targets
    like "(C)"), local_text (wikitext-shaped perplexity); and the gold data files."""
    def data(name, rows):
        f = root / f"{name}.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return f

    head = "dataset_path: json\ndataset_kwargs:\n  cache_dir: {cache}\n  data_files:\n    test: {file}\ntest_split: test\n"
    acc = "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\nmetadata:\n  version: 1.0\n"
    mc = data("local_mc", [{"question": q, "choices": c, "answer": a} for q, c, a in QUESTIONS])
    (root / "local_mc.yaml").write_text(
        "task: local_mc\n" + head.format(cache=root / "hf-cache", file=mc) + "output_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\ndoc_to_choice: choices\ndoc_to_target: answer\n' + acc)
    letters = data("local_letters", [{"question": q, "answer": LETTERS[a]} for q, _, a in QUESTIONS])
    (root / "local_letters.yaml").write_text(
        "task: local_letters\n" + head.format(cache=root / "hf-cache", file=letters) + "output_type: multiple_choice\n"
        'doc_to_text: "{{question}}\\nAnswer:"\ndoc_to_choice: ["(A)", "(B)", "(C)", "(D)"]\ndoc_to_target: answer\n'
        + acc)
    text = data("local_text", [{"text": d} for d in DOCS])
    (root / "local_text.yaml").write_text(
        "task: local_text\n" + head.format(cache=root / "hf-cache", file=text) + "output_type: loglikelihood_rolling\n"
        'doc_to_text: ""\ndoc_to_target: "{{text}}"\n'
        "metric_list:\n  - metric: word_perplexity\n  - metric: byte_perplexity\n  - metric: bits_per_byte\n"
        "metadata:\n  version: 1.0\n")
    gold = data("local_gold", [{"problem": p, "solution": s} for p, s in PROBLEMS])
    responses = data("ifeval_gold", [{"prompt": p, "response": s} for p, s in PROBLEMS[::-1]])
    return gold, responses


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def chat(tok, text):
    """What lm-eval scores under the chat template: the prompt's trailing "\\n" moves onto the continuation."""
    full = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    assert full.endswith("\n")
    return full[:-1]


@torch.no_grad()
def rolling_logliks(model, tok, docs):
    """Direct: every token of a document after the tokenizer's BOS (else EOS), summed, and the count."""
    prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    out = []
    for d in docs:
        ids = tok(d, add_special_tokens=False)["input_ids"]
        logp = torch.log_softmax(model(input_ids=torch.tensor([[prefix, *ids]])).logits.float(), -1)[0]
        out.append((sum(logp[i, t].item() for i, t in enumerate(ids)), len(ids)))
    return out


def test_the_paper_scale_retention_keys_are_the_miniatures():
    """Same keys, same units, at both scales; IFEval's gold needs responses (``gold_files``)."""
    assert set(lmeval.RETENTION) | {"ifeval_ll"} == set(analogues.RETENTION) == set(scoring.RETENTION_LABELS)
    assert all(kind in ("margin", "ll", "rolling") for _, kind in lmeval.RETENTION.values())
    assert {t for t, kind in lmeval.RETENTION.values() if kind == "ll"} <= set(lmeval.GOLD)


def test_retention_key_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="mmlu_ppl.*valid keys.*heldout_ll"):
        lmeval.evaluate("unused", [], retention=["mmlu_ppl"])
    with pytest.raises(FileNotFoundError, match="ifeval_ll: .*nowhere.jsonl"):
        lmeval.evaluate("unused", [], gold_files={"ifeval_ll": tmp_path / "nowhere.jsonl"})


@pytest.mark.slow
def test_margins_and_logliks_equal_a_direct_computation(tmp_path, offline, monkeypatch, model_dir, random_model, smoke_tokenizer):
    tok = smoke_tokenizer
    gold, responses = write_tasks(tmp_path)
    spec = {"mmlu_margin": ("local_mc", "margin"), "gpqa_margin": ("local_letters", "margin"),
            "math500_ll": ("local_gold", "ll"), "heldout_ll": ("local_text", "rolling")}
    monkeypatch.setitem(lmeval.GOLD, "local_gold", {"prompt": "problem", "response": "solution", "data_files": gold,
                                                    "cache_dir": tmp_path / "hf-cache"})
    table, samples = lmeval.evaluate(model_dir, ["mmlu"], tasks={"mmlu": ("local_mc", "acc", "none")},
                                     include_path=tmp_path, device="cpu", dtype="float32", batch_size=4,
                                     retention=list(spec), retention_tasks=spec, gold_files={"ifeval_ll": responses})

    # multiple choice: gold option minus the best distractor, per question, from one set of scores
    def margins(texts, options, golds):
        ctxs = [chat(tok, t) for t in texts]
        lp = [s for s, _ in continuation_logliks(random_model, tok, [c for c in ctxs for _ in range(4)],
                                                 ["\n" + o for opts in options for o in opts])]
        rows = [lp[4 * i: 4 * i + 4] for i in range(len(texts))]
        return [r[g] - max(v for j, v in enumerate(r) if j != g) for r, g in zip(rows, golds)]

    golds = [a for _, _, a in QUESTIONS]
    assert samples["mmlu_margin"][0] == pytest.approx(
        margins([f"Question: {q}\nAnswer:" for q, _, _ in QUESTIONS], [c for _, c, _ in QUESTIONS], golds), abs=1e-4)
    assert samples["gpqa_margin"][0] == pytest.approx(
        margins([f"{q}\nAnswer:" for q, _, _ in QUESTIONS], [LETTERS] * len(QUESTIONS), golds), abs=1e-4)
    assert samples["mmlu_margin"][1] == samples["gpqa_margin"][1] == [1.0] * len(QUESTIONS)
    assert samples["mmlu"][0] == [float(m > 0) for m in samples["mmlu_margin"][0]]  # the same run's ranking

    # gold responses: summed log-likelihood after the prompt, and its number of tokens
    for key, pairs in (("math500_ll", PROBLEMS), ("ifeval_ll", PROBLEMS[::-1])):
        direct = continuation_logliks(random_model, tok, [chat(tok, p) for p, _ in pairs], ["\n" + s for _, s in pairs])
        assert samples[key][0] == pytest.approx([s for s, _ in direct], abs=1e-3)
        assert samples[key][1] == [float(n) for _, n in direct]
    # held-out text: every token of a document after the prefix token
    direct = rolling_logliks(random_model, tok, DOCS)
    assert samples["heldout_ll"][0] == pytest.approx([s for s, _ in direct], abs=1e-3)
    assert samples["heldout_ll"][1] == [float(n) for _, n in direct]

    rows = table.set_index("key")
    assert rows.loc["heldout_ll", "score"] == pytest.approx(sum(s for s, _ in direct) / sum(n for _, n in direct))
    assert rows.loc["mmlu_margin", "benchmark"] == "MMLU (gold margin)" and rows.loc["ifeval_ll", "n"] == 3
    assert scoring.score_table({"m": samples}).set_index("key").loc["heldout_ll", "score"] == pytest.approx(
        rows.loc["heldout_ll", "score"])


@pytest.fixture
def four_models(tmp_path, random_model, smoke_tokenizer):
    """base, grpo, sft1ep, sft3ep: the random model, then copies moved by growing noise."""
    out = {}
    state = {k: v.clone() for k, v in random_model.state_dict().items()}
    for i, name in enumerate(("base", "grpo", "sft1ep", "sft3ep")):
        g = torch.Generator().manual_seed(i)
        random_model.load_state_dict({k: v + 0.05 * i * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
                                      for k, v in state.items()})
        out[name] = tmp_path / name
        random_model.save_pretrained(out[name])
        smoke_tokenizer.save_pretrained(out[name])
    random_model.load_state_dict(state)
    return out


@pytest.mark.slow
def test_claims_read_paper_scale_retention(tmp_path, offline, monkeypatch, four_models):
    """worlds.score_models at paper scale (a real-world preset) -> deltas -> the claim checks."""
    gold, responses = write_tasks(tmp_path)
    # every benchmark of the claims on the local tasks; retention as in production, through GOLD
    monkeypatch.setattr(lmeval, "TASKS", {k: ("local_letters" if k == "mmlu_pro" else "local_mc", "acc", "none")
                                          for k in lmeval.TASKS})
    monkeypatch.setattr(lmeval, "RETENTION", {
        "math500_ll": ("local_gold", "ll"), "gsm8k_ll": ("local_gold", "ll"), "aime24_ll": ("local_gold", "ll"),
        "mmlu_margin": ("local_mc", "margin"), "gpqa_margin": ("local_mc", "margin"),
        "mmlu_pro_margin": ("local_letters", "margin"), "ifeval_ll": ("local_ifeval", "ll"),
        "heldout_ll": ("local_text", "rolling")})
    monkeypatch.setitem(lmeval.GOLD, "local_gold", {"prompt": "problem", "response": "solution", "data_files": gold,
                                                    "cache_dir": tmp_path / "hf-cache"})
    monkeypatch.setitem(lmeval.GOLD, "local_ifeval", {"prompt": "prompt", "response": "response",
                                                      "data_files": responses, "cache_dir": tmp_path / "hf-cache"})
    real = lmeval.evaluate
    monkeypatch.setattr(lmeval, "evaluate", lambda *a, **kw: real(*a, **kw, include_path=tmp_path, device="cpu",
                                                                  dtype="float32"))
    cfg = config.load("gpu-small")
    assert not worlds.miniature(cfg)

    vectors, items = worlds.score_models(four_models, cfg)

    assert items is None and list(vectors) == list(four_models)
    assert set(vectors["base"]) == set(lmeval.TASKS) | set(scoring.RETENTION_LABELS)
    changes = scoring.deltas(vectors)
    checks = claims.benchmark_checks(changes)
    for run in ("grpo", "sft1ep", "sft3ep"):
        ret = checks[run]["retention"]
        assert list(ret) == list(scoring.GENERAL_RETENTION)  # every general retention score, as in the miniature
        mine = changes[changes.model == run].set_index("key")
        for k, v in ret.items():
            assert v["delta"] == pytest.approx(mine.delta[k]) and v["lo"] <= v["delta"] <= v["hi"]
    assert any(name.startswith("GRPO loses general retention") for name in checks["c1"])
    assert any(name.startswith("every SFT run loses more general retention") for name in checks["c2"])

    # the forgetting view (notebook 07): the general benchmarks and general retention only
    general, _ = worlds.score_models({"base": four_models["base"]}, cfg, general=True)
    assert set(general["base"]) == set(scoring.GENERAL) | set(scoring.GENERAL_RETENTION)
    assert general["base"]["heldout_ll"] == vectors["base"]["heldout_ll"]
