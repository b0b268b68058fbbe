import copy
import math

import pandas as pd
import pytest
import torch

from scalpel_core.eval import analogues as B
from scalpel_core.eval import scoring
from scalpel_core.eval.generation import generate, option_logprobs


def test_option_logprobs_match_unbatched_reference(random_model, smoke_tokenizer):
    ctxs = ["<|user|>\nWhich color?\n<|assistant|>\nIt is", "<|endoftext|>Bo lives in"]
    conts = [" red", " Oslo and more"]
    got = option_logprobs(random_model, smoke_tokenizer, ctxs, conts, batch_size=2)
    for ctx, cont, value in zip(ctxs, conts, got):
        c = smoke_tokenizer(ctx, add_special_tokens=False)["input_ids"]
        k = smoke_tokenizer(cont, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = random_model(input_ids=torch.tensor([c + k])).logits.double()
        logp = torch.log_softmax(logits[0], -1)
        ref = sum(logp[len(c) - 1 + j, t].item() for j, t in enumerate(k))
        assert math.isclose(value, ref, rel_tol=1e-4)


def test_generate_keeps_input_order_and_is_greedy(random_model, smoke_tokenizer, smoke_world):
    prompts = [it["prompt"] for it in smoke_world.benchmarks["gsm8k"][:6]]
    smoke_tokenizer.padding_side = "right"  # a user's setting: left alone, and not in the way
    a = generate(random_model, smoke_tokenizer, prompts, 8, batch_size=4)
    b = [generate(random_model, smoke_tokenizer, [p], 8, batch_size=1)[0] for p in prompts]
    assert a == b
    assert smoke_tokenizer.padding_side == "right"
    smoke_tokenizer.padding_side = "left"


def test_prefixes_prefill_the_reply(random_model, smoke_tokenizer, smoke_world):
    prompt = [smoke_world.benchmarks["gpqa"][0]["prompt"]]
    full = generate(random_model, smoke_tokenizer, prompt, 6)[0]
    # prefilling the model's own first words continues exactly where it would have gone
    first = smoke_tokenizer.decode(smoke_tokenizer(full, add_special_tokens=False)["input_ids"][:2])
    rest = generate(random_model, smoke_tokenizer, prompt, 4, prefixes=[first])[0]
    assert full == first + rest


def test_chance_levels(smoke_world):
    chance = B.chance_levels(smoke_world.benchmarks)
    assert chance["mmlu"] == pytest.approx(0.25) and chance["mmlu_pro"] == pytest.approx(0.125)
    assert chance["math500"] == 0.0
    assert chance["ifeval_prompt"] == 0.0 and 0.0 < chance["ifeval_inst"] < 0.6


def test_evaluate_table(random_model, smoke_tokenizer, smoke_world, smoke_cfg):
    small = {k: v[:6] for k, v in smoke_world.benchmarks.items()}
    table, items = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg)
    assert list(table["benchmark"]) == list(scoring.LABELS.values())
    assert table["score"].between(0, 1).all() and (table["n"] == 6).all()
    assert set(items) == {"aime24", "math500", "gsm8k", "mmlu", "mmlu_pro", "gpqa", "ifeval"}


def test_choice_scorer_picks_highest_likelihood(monkeypatch, smoke_tokenizer, smoke_world, smoke_cfg):
    items = smoke_world.benchmarks["mmlu"][:5]

    def fake(model, tok, ctxs, conts, batch_size):
        # score = 1 for the gold option of each item, 0 otherwise
        out = []
        for it in items:
            for j, _ in enumerate(it["options"]):
                out.append(1.0 if j == it["label"] else 0.0)
        return out

    monkeypatch.setattr(B, "option_logprobs", fake)
    rows = B.score_choice(None, smoke_tokenizer, items, smoke_cfg)
    assert all(r["correct"] == 1.0 for r in rows)


def test_two_hop_uses_the_models_own_bridge(monkeypatch, smoke_tokenizer, smoke_world, smoke_cfg):
    """Hop 2 is asked about whoever the model named in hop 1, right or wrong."""
    items = smoke_world.benchmarks["gpqa"][:4]
    people = {p["name"]: p for p in smoke_world.people}
    wrong = smoke_world.people[0]["name"]
    bridges = [items[0]["answer_text"].split(" is ")[1].split(".")[0], wrong, wrong, wrong]
    monkeypatch.setattr(B, "generate", lambda *a, **k: [f" {b}. trailing text" for b in bridges])
    seen = []

    def fake_logprobs(model, tok, ctxs, conts, batch_size):
        seen.extend(ctxs)
        # the scorer "knows" the true fact of whoever the context names in hop 2
        out = []
        for ctx, cont in zip(ctxs, conts):
            subject = ctx.split(". ")[-1].split(" ")[0]
            out.append(1.0 if cont.strip() in people[subject].values() else 0.0)
        return out

    monkeypatch.setattr(B, "option_logprobs", fake_logprobs)
    rows = B.score_chain(None, smoke_tokenizer, items, smoke_cfg)
    assert [r["bridge"] for r in rows] == bridges
    assert rows[0]["correct"] == 1.0  # right bridge, right fact
    assert f"{items[1]['chain_prefix']} {wrong}. {wrong} " in seen[len(items[0]["options"])]
    for it, r in zip(items[1:], rows[1:]):  # a wrong bridge answers about the wrong person
        truth = people[wrong][it["attr"]]
        assert r["correct"] == float(it["options"][it["label"]] == truth) or truth not in it["options"]


def _direct_loglik(model, tok, ctx_ids, cont_ids):
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ctx_ids + cont_ids])).logits.double()[0], -1)
    return sum(logp[len(ctx_ids) - 1 + j, t].item() for j, t in enumerate(cont_ids))


def test_retention_scores_are_the_margin_and_the_gold_loglikelihood(random_model, smoke_tokenizer, smoke_world,
                                                                     smoke_cfg):
    """Each retention score recomputed by hand, unbatched: the gold option's margin over the best
    distractor, the gold response's log-likelihood after the prompt, a held-out document's from its
    second token; and the vectors that make them scores (margins: mean; log-likelihoods: per token)."""
    small = {k: v[:3] for k, v in smoke_world.benchmarks.items()}
    docs = smoke_world.heldout_docs[:2]
    _, items = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg, heldout=docs)
    tok = smoke_tokenizer
    it = small["mmlu"][0]
    ctx = tok.apply_chat_template(it["prompt"], tokenize=False, add_generation_prompt=True) + it["answer_prefix"]
    lp = option_logprobs(random_model, tok, [ctx] * len(it["options"]), [" " + o for o in it["options"]])
    best_other = max(v for j, v in enumerate(lp) if j != it["label"])
    assert items["mmlu"][0]["margin"] == pytest.approx(lp[it["label"]] - best_other, rel=1e-5)
    it = small["math500"][1]
    ctx = tok(tok.apply_chat_template(it["prompt"], tokenize=False, add_generation_prompt=True),
              add_special_tokens=False)["input_ids"]
    gold = tok(it["solution"], add_special_tokens=False)["input_ids"]
    assert items["math500"][1]["ll_n"] == len(gold)
    assert items["math500"][1]["ll"] == pytest.approx(_direct_loglik(random_model, tok, ctx, gold), rel=1e-4)
    assert "gold" in small["ifeval"][0] and all(B.instructions.check(i["spec"], i["gold"]).values() for i in small["ifeval"])
    doc = tok(docs[0], add_special_tokens=False)["input_ids"]
    assert items["heldout"][0]["ll_n"] == len(doc) - 1
    assert items["heldout"][0]["ll"] == pytest.approx(_direct_loglik(random_model, tok, doc[:1], doc[1:]), rel=1e-4)
    vectors = B.item_vectors(items)
    assert set(B.RETENTION) <= set(vectors)
    num, den = vectors["math500_ll"]
    assert den == [float(r["ll_n"]) for r in items["math500"]] and num == [r["ll"] for r in items["math500"]]
    assert vectors["gpqa_margin"][1] == [1.0] * 3
    assert all(r["margin"] <= 0 or r["correct"] == 1.0 for r in items["mmlu"])  # margin > 0 only when ranked first


def test_accuracies_without_retention_and_the_cache_serving_both(tmp_path, monkeypatch, random_model, smoke_tokenizer,
                                                                  smoke_world, smoke_cfg):
    """retention=False skips the gold and held-out log-likelihoods, with the same accuracies; a
    cached full result serves a request without retention, not the other way round."""
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    small = {k: v[:3] for k, v in smoke_world.benchmarks.items()}
    docs = smoke_world.heldout_docs[:2]
    full_table, full = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg, heldout=docs)
    table, items = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg, heldout=docs, retention=False)
    pd.testing.assert_frame_equal(table, full_table)
    assert "heldout" not in items and "ll" not in items["math500"][0] and "ll" in full["math500"][0]
    assert not {"math500_ll", "heldout_ll"} & set(B.item_vectors(items))
    random_model.save_pretrained(tmp_path / "m")
    smoke_tokenizer.save_pretrained(tmp_path / "m")
    calls = []
    real = B.evaluate
    monkeypatch.setattr(B, "evaluate", lambda *a, **k: calls.append(a[-1]) or real(*a, **k))
    lean = B.evaluate_folder(tmp_path / "m", small, smoke_cfg, heldout=docs, retention=False)
    assert "heldout" not in lean and calls == [False]
    rich = B.evaluate_folder(tmp_path / "m", small, smoke_cfg, heldout=docs)  # not served by the lean result
    assert "heldout" in rich and calls == [False, True]
    B.evaluate_folder(tmp_path / "m", small, smoke_cfg, heldout=docs, retention=False)
    assert calls == [False, True]  # from the cache
    other = copy.deepcopy(random_model)  # another model, scored in full first: its full result serves the lean request
    with torch.no_grad():
        other.model.norm.weight.mul_(1.5)
    other.save_pretrained(tmp_path / "m2")
    smoke_tokenizer.save_pretrained(tmp_path / "m2")
    B.evaluate_folder(tmp_path / "m2", small, smoke_cfg, heldout=docs)
    lean2 = B.evaluate_folder(tmp_path / "m2", small, smoke_cfg, heldout=docs, retention=False)
    assert "heldout" in lean2 and calls == [False, True, True]


def test_the_out_of_domain_analogues_alone_and_a_full_result_serving_them(tmp_path, monkeypatch, random_model,
                                                                         smoke_tokenizer, smoke_world, smoke_cfg):
    """general=True scores knowledge and instructions only (notebook 07's forgetting), with the same
    rows as a full evaluation; a cached full result serves it without scoring again."""
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    small = {k: v[:3] for k, v in smoke_world.benchmarks.items()}
    docs = smoke_world.heldout_docs[:2]
    table, general = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg, heldout=docs, general=True)
    _, full = B.evaluate(random_model, smoke_tokenizer, small, smoke_cfg, heldout=docs)
    assert table is None and set(general) == {"mmlu", "mmlu_pro", "gpqa", "ifeval", "heldout"}
    assert general == {k: v for k, v in full.items() if k not in B.MATHS}
    vectors = B.item_vectors(general)
    assert "math500" not in vectors and {"mmlu", "ifeval_prompt", "ifeval_ll", "heldout_ll"} <= set(vectors)
    random_model.save_pretrained(tmp_path / "m")
    smoke_tokenizer.save_pretrained(tmp_path / "m")
    calls = []
    real = B.evaluate
    monkeypatch.setattr(B, "evaluate", lambda *a, **k: calls.append(k.get("general")) or real(*a, **k))
    B.evaluate_folder(tmp_path / "m", small, smoke_cfg, heldout=docs)  # the full result first
    served = B.evaluate_folder(tmp_path / "m", small, smoke_cfg, heldout=docs, general=True)
    assert calls == [False] and set(served) == set(general) and served["mmlu"] == general["mmlu"]
