import random

import pytest

from scalpel_core.world import instructions as ins


@pytest.mark.parametrize("seed", range(40))
def test_followed_response_satisfies_everything(seed):
    rng = random.Random(seed)
    spec = ins.sample_instructions(rng)
    assert 1 <= len(spec["constraints"]) <= 3
    assert not {"upper", "lower"} <= set(spec["constraints"])
    res = ins.check(spec, ins.respond(spec, rng))
    assert all(res.values()), (spec, res)


@pytest.mark.parametrize("seed", range(40))
def test_ignoring_constraints_fails_them(seed):
    rng = random.Random(seed)
    spec = ins.sample_instructions(rng)
    res = ins.check(spec, ins.respond(spec, rng, follow=False))
    assert res["count"]
    assert not any(res[c] for c in spec["constraints"]), (spec, res)


def test_each_checker_catches_its_violation():
    spec = {"category": "colors", "k": 2, "constraints": ["end", "lines", "quotes", "upper"], "words": {"end": "bye"}}
    assert all(ins.check(spec, '"RED\nBLUE\nBYE"').values())
    assert not ins.check(spec, '"RED\nBLUE\nBYE')["quotes"]
    assert not ins.check(spec, '"RED, BLUE\nBYE"')["lines"]
    assert not ins.check(spec, '"Red\nBLUE\nBYE"')["upper"]
    assert not ins.check(spec, '"RED\nBLUE"')["end"]
    assert not ins.check(spec, '"RED\nBLUE\nGREEN\nBYE"')["count"]
    assert not ins.check(spec, '"RED\nRED\nBYE"')["count"]  # duplicates do not count
    spec = {"category": "animals", "k": 3, "constraints": ["lower", "start"], "words": {"start": "cheers"}}
    assert all(ins.check(spec, "cheers\ncat, dog, owl").values())
    assert not ins.check(spec, "cat, dog, owl cheers")["start"]
    assert not ins.check(spec, "okay\nCat, dog, owl")["lower"]
