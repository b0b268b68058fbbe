import re
from collections import Counter

import numpy as np
import pytest

from scalpel_core import config
from scalpel_core.world import facts, maths
from scalpel_core.world.build import BENCHMARKS, build_world


def test_same_seed_same_world(smoke_world, smoke_cfg):
    again = build_world(smoke_cfg)
    assert again.pretrain_docs == smoke_world.pretrain_docs
    assert again.benchmarks == smoke_world.benchmarks
    assert again.k12_train == smoke_world.k12_train


def test_other_seed_other_world(smoke_world):
    other = build_world(config.load("smoke", seed=1))
    assert other.pretrain_docs != smoke_world.pretrain_docs
    assert other.benchmarks["math500"] != smoke_world.benchmarks["math500"]


def test_sizes_follow_config(smoke_world, smoke_cfg):
    assert set(smoke_world.benchmarks) == set(BENCHMARKS)
    assert len(smoke_world.benchmarks["math500"]) == smoke_cfg.n_math500
    assert len(smoke_world.k12_train) == smoke_cfg.n_k12_train
    assert len(smoke_world.pretrain_docs) == smoke_cfg.n_pretrain_docs
    assert len(smoke_world.people) == smoke_cfg.n_entities


def test_held_out_sets_never_seen_in_pretraining(smoke_world):
    corpus = "\n".join(smoke_world.pretrain_docs)
    k12 = {ex["expr"] for ex in smoke_world.k12_train}
    m500 = {ex["expr"] for ex in smoke_world.benchmarks["math500"]}
    assert not k12 & m500
    for ex in smoke_world.k12_train + smoke_world.benchmarks["math500"]:
        for phrase in maths.PHRASES:  # the problem in any of its phrasings, as a whole user turn
            assert f"<|user|>\n{phrase.format(e=ex['expr'])}\n" not in corpus
    for ex in smoke_world.benchmarks["gsm8k"]:
        assert ex["problem"] not in corpus
    for ex in smoke_world.benchmarks["ifeval"]:
        assert "<|user|>\n" + ex["prompt"][0]["content"] + "\n" not in corpus


def test_teacher_style_is_new_to_the_base(smoke_world):
    corpus = "\n".join(smoke_world.pretrain_docs)
    teacher = smoke_world.k12_train[0]["teacher_solution"]
    assert " in columns: ones " in teacher
    assert "in columns" not in corpus and "Wait, check" not in corpus and "Okay" not in corpus
    # ... and much longer than the base's own style
    lengths = [(len(e["teacher_solution"]), len(e["base_solution"])) for e in smoke_world.k12_train]
    assert sum(t for t, _ in lengths) > 3 * sum(b for _, b in lengths)


def test_answers_are_the_arithmetic(smoke_world):
    for ex in smoke_world.k12_train + smoke_world.benchmarks["math500"] + smoke_world.benchmarks["aime24"]:
        assert int(ex["answer"]) == eval(ex["expr"])  # left-to-right == Python precedence here
        assert f"<answer>\n{ex['answer']}\n</answer>" in ex["teacher_solution"]
        assert f"\\boxed{{{ex['answer']}}}" in ex["solution"]
    for ex in smoke_world.benchmarks["gsm8k"]:
        nums = [int(n) for n in re.findall(r"\d+", ex["problem"])]
        expect = nums[0] + nums[1] - (nums[2] if len(nums) > 2 else 0)
        assert int(ex["answer"]) == expect


def test_knowledge_items_point_at_the_true_fact(smoke_world):
    people = {p["name"]: p for p in smoke_world.people}
    held = {p["name"] for p in smoke_world.people[len(people) // 2:]}
    for b, n_opt in (("mmlu", 4), ("mmlu_pro", 8), ("gpqa", 4)):
        for it in smoke_world.benchmarks[b]:
            assert len(it["options"]) == n_opt == len(set(it["options"]))
            gold = it["options"][it["label"]]
            assert it["answer_text"] == f"{it['answer_prefix']} {gold}."
            pattern = r"best friend of (\w+)" if b == "gpqa" else r"does (\w+)"
            name = re.search(pattern, it["prompt"][0]["content"]).group(1)
            assert name in held  # benchmarks ask about the held-out half
            target = people[people[name]["friend"]] if b == "gpqa" else people[name]
            attr = next(a for a, vals in facts.ATTRIBUTES.items() if gold in vals)
            assert target[attr] == gold
            if b == "gpqa":  # the chain names the friend, then the friend's fact
                assert it["answer_text"].startswith(f"The best friend of {name} is {target['name']}. ")


def test_aime_is_harder_than_k12(smoke_world):
    k12 = max(max(map(int, re.findall(r"\d+", e["expr"]))) for e in smoke_world.k12_train)
    aime = min(len(re.findall(r"\d+", e["expr"])) for e in smoke_world.benchmarks["aime24"])
    terms = max(len(re.findall(r"\d+", e["expr"])) for e in smoke_world.k12_train)
    assert k12 < 1000 and terms <= 3 < aime and all("*" in e["expr"] for e in smoke_world.benchmarks["aime24"])


def test_steps_evaluate_left_to_right():
    assert maths._steps([("", 5), ("+", 3), ("-", 2)]) == [(5, "+", 3, 8), (8, "-", 2, 6)]


def test_facts_are_stated_at_graded_frequencies(smoke_world):
    """World version 2: fame is log-uniform over FAME_SPREAD, both halves of the people cover its
    range, and fact sentences mention people in proportion to it."""
    levels = facts.fame_levels(12)
    assert levels[0] == 1.0 and levels[-1] == pytest.approx(facts.FAME_SPREAD)
    assert np.allclose(np.diff(np.log(levels)), np.log(facts.FAME_SPREAD) / 11)  # log-uniform
    people = smoke_world.people
    half = len(people) // 2
    assert sorted(p["fame"] for p in people) == pytest.approx(facts.fame_levels(len(people)))
    for group in (people[:half], people[half:]):  # the quizzed half spans the range too
        fame = sorted(p["fame"] for p in group)
        assert fame[-1] / fame[0] > facts.FAME_SPREAD / 3
    said = Counter(sentence.split(" ")[0] for doc in smoke_world.pretrain_docs if doc.startswith("<|endoftext|>")
                   for sentence in doc.strip("<|endoftext|>").split(". ") if not sentence.startswith("The best"))
    counts = np.array([said[p["name"]] for p in people], dtype=float)
    fame = np.array([p["fame"] for p in people])
    assert counts[fame.argmax()] > 20 * max(1.0, counts[fame.argmin()])
    assert np.corrcoef(np.log(fame), np.log1p(counts))[0, 1] > 0.8  # 12 people, ~1400 sentences: noisy counts


def test_heldout_documents_are_of_the_mixture_and_never_trained_on(smoke_world, smoke_cfg):
    held = smoke_world.heldout_docs
    assert len(held) == smoke_cfg.n_heldout_docs == len(set(held))
    assert not set(held) & set(smoke_world.pretrain_docs)
    assert any(d.startswith("<|endoftext|>") for d in held) and any("<|assistant|>" in d for d in held)


def test_pretraining_holds_easy_arithmetic_only_and_the_post_training_set_both(smoke_world):
    import re as _re

    lo, hi = maths.EASY_RANGE
    starts = tuple(p.split("{e}")[0] for p in maths.PHRASES)
    problems = [d.split("<|user|>\n")[1].split("\n")[0] for d in smoke_world.pretrain_docs if "<|user|>\n" in d]
    problems = [p for p in problems if p.startswith(starts)]
    assert len(problems) > 100
    for problem in problems:
        assert all(lo <= int(n) <= hi for n in _re.findall(r"\d+", problem)), problem
    sizes = [max(int(n) for n in _re.findall(r"\d+", e["expr"])) for e in smoke_world.k12_train]
    hard = sum(s > hi for s in sizes) / len(sizes)
    assert 0 < hard < 1 and abs(hard - maths.HARD) < 0.15


def test_the_selection_split_is_disjoint_and_leaves_the_rest_of_the_world_alone(smoke_world, smoke_cfg):
    """World v4 candidate: n_select problems of their own stream, none of them a dev, benchmark or
    post-training problem nor in the corpus; every other part of the world is the same as without it."""
    assert smoke_world.select == []  # off by default
    world = build_world(config.load("smoke", n_select=40))
    assert len(world.select) == 40 and len({ex["expr"] for ex in world.select}) == 40
    others = {ex["expr"] for ex in world.dev + world.k12_train + world.benchmarks["math500"] + world.benchmarks["aime24"]}
    assert not others & {ex["expr"] for ex in world.select}
    corpus = "\n".join(world.pretrain_docs)
    for ex in world.select:  # the problem in any of its phrasings, as a whole user turn
        assert not any(f"<|user|>\n{phrase.format(e=ex['expr'])}\n" in corpus for phrase in maths.PHRASES)
    assert {ex["expr"] for ex in world.select} <= world.taken  # so the teacher probe's fresh set avoids them
    assert not {ex["expr"] for ex in world.fresh_problems(50)} & {ex["expr"] for ex in world.select}
    for name in ("dev", "k12_train", "people"):
        assert getattr(world, name) == getattr(smoke_world, name), name
    assert world.benchmarks == smoke_world.benchmarks
    # the corpus skips the easy sums that became selection problems, so it is redrawn, same size
    assert len(world.pretrain_docs) == len(smoke_world.pretrain_docs)


def test_the_facts_share_sets_the_mixture_and_leaves_the_items_alone(smoke_world):
    """World v5 candidate: facts_share is the share of fact documents in the corpus, the other kinds
    keep their ratios (exactly MIXTURE at the default), and no benchmark, dev or training item moves."""
    from scalpel_core.world.build import MIXTURE, mixture_weights

    assert mixture_weights(config.load("smoke")) == MIXTURE
    mix = mixture_weights(config.load("smoke", facts_share=0.08))
    assert mix["facts"] == 0.08 and abs(sum(mix.values()) - 1) < 1e-12
    for kind in MIXTURE:
        assert abs(mix[kind] / mix["k12"] - MIXTURE[kind] / MIXTURE["k12"]) < 1e-12 or kind == "facts", kind
    world = build_world(config.load("smoke", facts_share=0.08))

    def share_of_facts(docs):  # fact documents are the only ones that are not chats
        return sum(not d.startswith("<|endoftext|><|") for d in docs) / len(docs)

    before, after = share_of_facts(smoke_world.pretrain_docs), share_of_facts(world.pretrain_docs)
    n = len(world.pretrain_docs)
    assert abs(before - 0.16) < 4 * (0.16 * 0.84 / n) ** 0.5, before
    assert abs(after - 0.08) < 4 * (0.08 * 0.92 / n) ** 0.5, after
    assert len(world.pretrain_docs) == len(smoke_world.pretrain_docs)
    for name in ("dev", "k12_train", "people", "select"):
        assert getattr(world, name) == getattr(smoke_world, name), name
    assert world.benchmarks == smoke_world.benchmarks
