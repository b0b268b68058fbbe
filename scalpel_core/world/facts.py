"""A synthetic fact base and the knowledge analogues (MMLU, MMLU-Pro, GPQA:Diamond).

Every person has a colour, a city, a pet and a best friend. Pretraining states the
facts as plain sentences for everyone, and shows question/answer chats only for the
"train" half of the people; the benchmarks ask about the other half.

World version 2: people are not equally famous. Each person has a ``fame`` weight, and fact
sentences mention a person in proportion to it. The weights are log-uniform over a range of
:data:`FAME_SPREAD` (the most-mentioned person appears that many times as often as the least),
as mentions of real entities are long-tailed, so the base knows its common facts and not its
rare ones, and the knowledge analogues sit off their ceiling. Both halves of the people cover
the whole range. (Design fixed before any post-training of this world; version 1, every fact
equally frequent, put the base at 0.96-1.00 on every knowledge analogue.)

MMLU/MMLU-Pro items are scored by ranking the options' log-likelihood (cloze), as
OLMES does for small models. GPQA items are two-hop ("which city does the best friend
of X live in?"), answered as a chain in two stages: the model greedily generates the
bridge after "The best friend of X is" (hop 1), then the options are ranked by their
log-likelihood after "... is Y. Y lives in", with Y the model's own bridge (hop 2).
"""

from __future__ import annotations

import random

ATTRIBUTES = {
    "color": ("red", "blue", "green", "yellow", "purple", "orange", "white", "black"),
    "city": ("Lima", "Oslo", "Cairo", "Perth", "Quito", "Dakar", "Hanoi", "Riga"),
    "pet": ("cat", "dog", "fox", "owl", "bee", "elk", "yak", "eel"),
}
STATEMENT = {  # the fact as a sentence; the answer to a question restates it
    "color": "{n} likes the color {v}.",
    "city": "{n} lives in {v}.",
    "pet": "{n} has a pet {v}.",
}
QUESTION = {
    "color": "Which color does {n} like?",
    "city": "Which city does {n} live in?",
    "pet": "Which animal does {n} have as a pet?",
}
SYLLABLES = ("ba", "ko", "ri", "mu", "te", "la", "zo", "ni", "pa", "ve", "su", "dra", "mi",
             "lo", "ka", "re", "to", "fi", "gu", "ne")


FAME_SPREAD = 300.0  # most / least frequent person's share of the fact sentences (world version 2)


def fame_levels(n: int) -> list[float]:
    """``n`` log-uniform weights from 1 to :data:`FAME_SPREAD`, in increasing order."""
    return [FAME_SPREAD ** (i / max(1, n - 1)) for i in range(n)]


def make_people(rng: random.Random, n: int) -> list[dict]:
    """``n`` people with random facts and a ``fame`` weight. The first half (the "train"
    people) takes every other fame level and the second half the rest, each in random order."""
    names: list[str] = []
    while len(names) < n:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        if name not in names:
            names.append(name)
    people = [{"name": nm, **{a: rng.choice(v) for a, v in ATTRIBUTES.items()}} for nm in names]
    for p in people:
        p["friend"] = rng.choice([q["name"] for q in people if q is not p])
    levels = fame_levels(n)
    first, second = levels[1::2], levels[0::2]  # n // 2 and n - n // 2 levels
    rng.shuffle(first)
    rng.shuffle(second)
    for p, f in zip(people, first + second):
        p["fame"] = f
    return people


def friend_prefix(name: str) -> str:
    """The start of the two-hop chain, up to the bridge: 'The best friend of X is'."""
    return f"The best friend of {name} is"


def friend_sentence(person: dict) -> str:
    return f"{friend_prefix(person['name'])} {person['friend']}."


def chain_prefix(name: str, bridge: str, attr: str) -> str:
    """The two-hop reply up to the value: 'The best friend of X is Y. Y lives in'."""
    return f"{friend_prefix(name)} {bridge}. {statement_prefix(attr, bridge)}"


def fact_sentence(person: dict, attr: str) -> str:
    return STATEMENT[attr].format(n=person["name"], v=person[attr])


def statement_prefix(attr: str, subject: str) -> str:
    """The fact sentence about ``subject`` up to (not including) its value: 'Y lives in'."""
    return STATEMENT[attr].split(" {v}")[0].format(n=subject)


def mc_item(rng: random.Random, person: dict, attr: str, n_options: int, task: str,
            friend: dict | None = None) -> dict:
    """A multiple-choice item about ``person``. With ``friend`` (person's best friend)
    it is two-hop: it asks about the friend, naming only ``person``."""
    target = friend or person
    gold = target[attr]
    distract = rng.sample([v for v in ATTRIBUTES[attr] if v != gold], n_options - 1)
    options = distract + [gold]
    rng.shuffle(options)
    if friend is None:
        question = QUESTION[attr].format(n=person["name"])
        prefix = statement_prefix(attr, person["name"])
    else:
        question = QUESTION[attr].format(n=f"the best friend of {person['name']}")
        prefix = chain_prefix(person["name"], friend["name"], attr)
    user = question + "\nOptions: " + ", ".join(options)
    item = {
        "task": task,
        "prompt": [{"role": "user", "content": user}],
        "answer_prefix": prefix,  # the reply up to the value; options are ranked after it
        "options": options,
        "label": options.index(gold),
        "answer_text": f"{prefix} {gold}.",
    }
    if friend is not None:
        item["chain_prefix"] = friend_prefix(person["name"])
        item["asked_about"] = person["name"]
        item["attr"] = attr
    return item
