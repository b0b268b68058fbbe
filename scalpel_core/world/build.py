"""Assemble the miniature world from a config: fact base, post-training set, benchmarks, corpus.

Deterministic: every component draws from its own ``random.Random(f"{seed}-{name}")``.
Benchmark items and the K12 post-training problems never occur in the pretraining corpus.
``heldout_docs`` are further documents of the pretraining mixture, none of them in the corpus:
the held-out text of the general-language retention score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..config import Config, require_world
from ..data.prompts import SYSTEM_PROMPT, render_chat
from . import facts, instructions, maths

BENCHMARKS = ("aime24", "math500", "gsm8k", "mmlu", "mmlu_pro", "gpqa", "ifeval")

# Share of each document kind in the pretraining mixture (a world-design choice,
# fixed before any post-training was run; see notebooks/00_base_model.ipynb).
# config facts_share replaces the facts share (default 0.16; mixture_weights): the others keep their ratios.
MIXTURE = {
    "facts": 0.16,  # fact sentences about everyone, each person in proportion to its fame (the knowledge itself)
    "qa": 0.06,  # question/answer chats about the train half of the people (4 or 8 options)
    "twohop": 0.08,  # "Which ... does the best friend of X ...?" answered with a two-step chain
    "k12": 0.34,  # easy arithmetic (maths.easy_terms) in the base's short <think>/<answer> style, with the system prompt
    "gsm": 0.16,  # word problems in the base's short style, no system prompt
    "ifeval": 0.20,  # list-making with format constraints, followed exactly
}


def mixture_weights(cfg: Config) -> dict[str, float]:
    """The pretraining mixture of ``cfg``: MIXTURE with the facts share set to ``cfg.facts_share``
    and every other kind scaled so that the shares sum to 1 and keep their ratios."""
    scale = (1.0 - cfg.facts_share) / (1.0 - MIXTURE["facts"])  # exactly 1.0 at the default share
    return {k: cfg.facts_share if k == "facts" else v * scale for k, v in MIXTURE.items()}


@dataclass
class World:
    cfg: Config
    people: list[dict]
    k12_train: list[dict]  # post-training problems: prompt, answer, teacher_solution
    benchmarks: dict[str, list[dict]]
    dev: list[dict]  # in-domain problems of the calibration only (world v3), disjoint from the rest
    pretrain_docs: list[str] = field(repr=False)
    heldout_docs: list[str] = field(repr=False, default_factory=list)  # same mixture, not in the corpus
    taken: frozenset = field(repr=False, default_factory=frozenset)  # every maths expression above
    select: list[dict] = field(default_factory=list)  # base-selection split (world v4 candidate; n_select)

    def fresh_problems(self, n: int, name: str = "probe") -> list[dict]:
        """``n`` more in-domain problems (with teacher traces), none of them a benchmark, dev or
        post-training problem: the teacher probe's set (scalpel_core.world.calibrate)."""
        return _unique_maths(_rng(self.cfg, name), n, maths.k12_terms, name, set(self.taken))

    def tokenizer_corpus(self) -> list[str]:
        """Every kind of text the world contains (the tokenizer must cover teacher traces too)."""
        texts = list(self.pretrain_docs) + [SYSTEM_PROMPT]
        for ex in self.k12_train + self.benchmarks["math500"]:
            texts += [render_chat(ex["prompt"] + [{"role": "assistant", "content": ex["teacher_solution"]}]),
                      render_chat([ex["prompt"][1], {"role": "assistant", "content": ex["solution"]}])]
        for rows in self.benchmarks.values():
            texts += [render_chat(r["prompt"], add_generation_prompt=True) for r in rows]
        return texts


def _rng(cfg: Config, name: str) -> random.Random:
    return random.Random(f"{cfg.seed}-{name}")


def _unique_maths(rng, n, make_terms, task, taken: set[str]) -> list[dict]:
    out = []
    while len(out) < n:
        terms = make_terms(rng)
        key = maths._expr(terms)
        if key not in taken:
            taken.add(key)
            out.append(maths.math_example(terms, rng, task) | {"expr": key})
    return out


def build_world(cfg: Config) -> World:
    """Build the deterministic miniature world of ``cfg`` (a config of the world ``mini``)."""
    require_world(cfg, "mini", f"build_world needs world='mini', preset {cfg.preset!r} has world={cfg.world!r}")
    people = facts.make_people(_rng(cfg, "people"), cfg.n_entities)
    half = len(people) // 2
    train_people, test_people = people[:half], people[half:]

    taken: set[str] = set()
    math500 = _unique_maths(_rng(cfg, "math500"), cfg.n_math500, maths.k12_terms, "math500", taken)
    k12 = _unique_maths(_rng(cfg, "k12"), cfg.n_k12_train, maths.k12_terms, "k12", taken)
    aime = _unique_maths(_rng(cfg, "aime"), cfg.n_aime, maths.aime_terms, "aime24", taken)
    dev = _unique_maths(_rng(cfg, "dev"), cfg.n_dev, maths.k12_terms, "dev", taken)
    # the base-selection split (world v4 candidate): its own stream, drawn after every other maths set
    # so that they are unchanged, and kept out of the corpus and the probe's set like them
    select = _unique_maths(_rng(cfg, "select"), cfg.n_select, maths.k12_terms, "select", taken)
    r = _rng(cfg, "gsm")
    gsm, gsm_seen = [], set()
    while len(gsm) < cfg.n_gsm8k:
        ex = maths.gsm_example(r)
        if ex["problem"] not in gsm_seen:
            gsm_seen.add(ex["problem"])
            gsm.append(ex)

    r = _rng(cfg, "knowledge")
    attrs = sorted(facts.ATTRIBUTES)

    by_name = {p["name"]: p for p in people}

    def mc(n, n_opt, task, twohop=False):
        items = []
        for _ in range(n):
            person = r.choice(test_people)
            friend = by_name[person["friend"]] if twohop else None
            items.append(facts.mc_item(r, person, r.choice(attrs), n_opt, task, friend))
        return items

    benchmarks = {
        "aime24": aime,
        "math500": math500,
        "gsm8k": gsm,
        "mmlu": mc(cfg.n_mmlu, 4, "mmlu"),
        "mmlu_pro": mc(cfg.n_mmlu_pro, 8, "mmlu_pro"),
        "gpqa": mc(cfg.n_gpqa, 4, "gpqa", twohop=True),
        "ifeval": [instructions.ifeval_item(_rng(cfg, f"ifeval-{i}")) for i in range(cfg.n_ifeval)],
    }
    held_prompts = {b["prompt"][-1]["content"] for b in benchmarks["ifeval"]}
    mix = mixture_weights(cfg)
    docs = _pretrain_docs(_rng(cfg, "pretrain"), cfg.n_pretrain_docs, people, train_people, taken, gsm_seen,
                          held_prompts, mix)
    seen = set(docs)
    heldout = [d for d in _pretrain_docs(_rng(cfg, "heldout"), 2 * cfg.n_heldout_docs, people, train_people,
                                         taken, gsm_seen, held_prompts, mix) if d not in seen]
    return World(cfg, people, k12, benchmarks, dev, docs, list(dict.fromkeys(heldout))[: cfg.n_heldout_docs],
                 frozenset(taken), select)


def _pretrain_docs(r, n_docs, people, train_people, taken, gsm_seen, held_prompts, mix) -> list[str]:
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    attrs = sorted(facts.ATTRIBUTES)
    by_name = {p["name"]: p for p in people}
    fame = [p["fame"] for p in people]
    docs = []
    while len(docs) < n_docs:
        kind = r.choices(kinds, weights)[0]
        if kind == "facts":
            sents = [facts.friend_sentence(p) if a == "friend" else facts.fact_sentence(p, a)
                     for p, a in ((r.choices(people, fame)[0], r.choice(attrs + ["friend"])) for _ in range(6))]
            docs.append("<|endoftext|>" + " ".join(sents) + "<|endoftext|>")
            continue
        if kind in ("qa", "twohop"):
            person = r.choice(train_people)
            friend = by_name[person["friend"]] if kind == "twohop" else None
            item = facts.mc_item(r, person, r.choice(attrs), r.choice((4, 8)), kind, friend)
            prompt, reply = item["prompt"], item["answer_text"]
        elif kind == "k12":
            terms = maths.easy_terms(r)  # the base pretrains on easy arithmetic only (maths.HARD)
            if maths._expr(terms) in taken:
                continue
            ex = maths.math_example(terms, r, "k12")
            prompt, reply = ex["prompt"], ex["base_solution"]
        elif kind == "gsm":
            ex = maths.gsm_example(r)
            if ex["problem"] in gsm_seen:
                continue
            prompt, reply = ex["prompt"], ex["base_solution"]
        else:  # ifeval
            spec = instructions.sample_instructions(r)
            text = instructions.prompt_text(spec)
            if text in held_prompts:
                continue
            prompt, reply = [{"role": "user", "content": text}], instructions.respond(spec, r)
        docs.append(render_chat(prompt + [{"role": "assistant", "content": reply}]))
    return docs
