"""Synthetic verifiable maths: the K12 post-training set and the maths benchmark analogues.

Three written styles of the same arithmetic, so that the methods differ in what they teach:
- ``base``: the base model's own short style (seen in pretraining);
- ``teacher``: long R1-style traces ("Okay, ... Wait, let me check ..."), never seen in
  pretraining, with a procedure the base lacks (world v3): column arithmetic with carries and
  borrows and re-checks that catch real slips; SFT trains on them;
- ``reference``: a textbook solution, the MATH-500 analogue's reference (for the KL).
"""

from __future__ import annotations

import random

from ..data.prompts import with_system

PHRASES = ("Compute {e}.", "Calculate {e}.", "What is {e}?", "Evaluate {e}.")
NAMES = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun")
ITEMS = ("apples", "books", "coins", "pens", "shells", "stamps", "cards", "beads")


def _steps(terms: list[tuple[str, int]]) -> list[tuple[int, str, int, int]]:
    """Left-to-right evaluation: [(left, op, right, result), ...]."""
    acc, out = terms[0][1], []
    for op, v in terms[1:]:
        res = acc + v if op == "+" else acc - v if op == "-" else acc * v
        out.append((acc, op, v, res))
        acc = res
    return out


def _expr(terms) -> str:
    return " ".join([str(terms[0][1])] + [f"{op} {v}" for op, v in terms[1:]])


# World v3: a share of the in-domain problems is "hard": operands of 2-3 digits (10-999), whose
# sums are too many to be recalled (990 x 990 pairs), so the base, which writes each step in one go,
# almost always fails them, while the teacher's column procedure (one digit fact per column) makes
# them reliable. The rest are "easy": operands 2-50, world v2's range, where the base's recall mostly
# succeeds. The pretraining corpus holds easy problems only (:func:`easy_terms`): a first v3 base
# that also pretrained on hard problems in its one-go style learned neither kind (dev greedy 0.07:
# easy 0.16 / 0.07 for 2 / 3 terms, hard 0.00). HARD was set against the base's band on the dev split
# only (tests/test_calibration.py; base greedy 0.30-0.50): at 0.35 the base scored 0.29 on dev (easy
# problems about 0.45, hard about 0), so 0.2 (expected about 0.36).
HARD = 0.2  # share of hard problems in the post-training set, the maths benchmark analogue and dev
EASY_RANGE = (2, 50)  # operands of easy problems (world v2's range)
HARD_RANGE = (10, 999)  # operands of hard problems


def _terms(rng: random.Random, lo: int, hi: int) -> list[tuple[str, int]]:
    n = rng.choice((2, 3))
    terms = [("", rng.randint(lo, hi))]
    acc = terms[0][1]
    for _ in range(n - 1):
        v = rng.randint(lo, hi)
        op = rng.choice("+-") if acc >= v else "+"
        acc = acc + v if op == "+" else acc - v
        terms.append((op, v))
    return terms


def easy_terms(rng: random.Random) -> list[tuple[str, int]]:
    """2-3 terms of + and -, operands from :data:`EASY_RANGE`, never negative along the way: the
    arithmetic of the pretraining corpus."""
    return _terms(rng, *EASY_RANGE)


def k12_terms(rng: random.Random) -> list[tuple[str, int]]:
    """In-domain problems: with probability :data:`HARD` operands from :data:`HARD_RANGE`, else
    :func:`easy_terms`."""
    return _terms(rng, *HARD_RANGE) if rng.random() < HARD else easy_terms(rng)


def aime_terms(rng: random.Random) -> list[tuple[str, int]]:
    """AIME24 analogue: a 3-digit number times a digit, then 3 more 3-digit terms."""
    terms = [("", rng.randint(100, 999)), ("*", rng.randint(3, 9))]
    acc = terms[0][1] * terms[1][1]
    for _ in range(3):
        v = rng.randint(100, 999)
        op = rng.choice("+-") if acc >= v else "+"
        acc = acc + v if op == "+" else acc - v
        terms.append((op, v))
    return terms


SYM = {"+": "+", "-": "-", "*": "*"}
WORD = {"+": "plus", "-": "minus", "*": "times"}


def base_solution(terms) -> str:
    lines = "\n".join(f"{a} {SYM[op]} {b} = {r}" for a, op, b, r in _steps(terms))
    ans = _steps(terms)[-1][3]
    return f"<think>\n{lines}\n</think>\n<answer>\n{ans}\n</answer>"


PLACES = ("ones", "tens", "hundreds", "thousands", "ten-thousands")
RECHECK = 0.3  # share of steps whose trace re-checks one column ("Wait, let me check ...")
SLIP = 0.1  # share of steps with a real slip in one column, always caught by that re-check


def _digits(n: int, width: int) -> list[int]:
    return [(n // 10 ** i) % 10 for i in range(width)]  # ones first


def columns(a: int, op: str, b: int) -> list[dict]:
    """The column procedure of ``a op b`` (``op`` in + - *; for *, ``b`` is one digit), ones first:
    per column the text of its sum and the digit written and carried or borrowed."""
    out = []
    if op == "*":
        carry = 0
        for i, d in enumerate(_digits(a, len(str(a)))):
            v = d * b + carry
            calc = f"{d}x{b}" + (f"+{carry}" if carry else "") + f"={v}"
            out.append({"place": PLACES[i], "calc": calc, "digit": v % 10, "carry": v // 10})
            carry = v // 10
        if carry:
            out.append({"place": PLACES[len(out)], "calc": "", "digit": carry, "carry": 0})
        return out
    width = max(len(str(a)), len(str(b)))
    carry = 0
    for i, (x, y) in enumerate(zip(_digits(a, width), _digits(b, width))):
        if op == "+":
            v = x + y + carry
            calc = f"{x}+{y}" + (f"+{carry}" if carry else "") + f"={v}"
            out.append({"place": PLACES[i], "calc": calc, "digit": v % 10, "carry": v // 10})
            carry = v // 10
        else:
            top = x - carry
            borrow = int(top < y)
            v = top + 10 * borrow - y
            calc = f"{x}" + (f"-{carry}" if carry else "") + ("+10" if borrow else "") + f"-{y}={v}"
            out.append({"place": PLACES[i], "calc": calc, "digit": v, "carry": borrow})
            carry = borrow
    if op == "+" and carry:
        out.append({"place": PLACES[width], "calc": "", "digit": carry, "carry": 0})
    return out


def _column_line(c: dict, op: str, digit: int) -> str:
    """``tens 4+8+1=13, write 3 carry 1.`` (a last column holds only the carry)."""
    tail = (" borrow 1" if op == "-" else f" carry {c['carry']}") if c["carry"] else ""
    calc = f" {c['calc']}," if c["calc"] else ""
    return f"{c['place']}{calc} write {digit}{tail}."


def teacher_step(a: int, op: str, b: int, rng: random.Random) -> str:
    """One step of the teacher's trace: ``a op b`` column by column (intermediate digits written
    out), then the result read off; sometimes one column is re-checked, and a real slip (a wrong
    digit written) is always caught and corrected by that re-check."""
    cols = columns(a, op, b)
    result = a + b if op == "+" else a - b if op == "-" else a * b
    check = rng.random() < RECHECK
    slip = check and rng.random() < SLIP / RECHECK
    j = rng.randrange(len(cols))
    lines = [f"{a}{SYM[op]}{b} in columns:"]
    for i, c in enumerate(cols):
        wrong = (c["digit"] + rng.choice((1, 9))) % 10 if slip and i == j else c["digit"]
        lines.append(_column_line(c, op, wrong))
    if check:
        c = cols[j]
        calc = c["calc"] or f"carry {c['digit']}"
        if slip:
            lines.append(f"Wait, check the {c['place']}: {calc}, so {c['digit']}. I wrote it wrong; fixed.")
        else:
            lines.append(f"Wait, check the {c['place']}: {calc}, so {c['digit']}. Yes, right.")
    lines.append(f"So {a}{SYM[op]}{b}={result}.")
    return " ".join(lines)


def teacher_solution(terms, rng: random.Random) -> str:
    """A long R1-style trace with a procedure the base lacks: each step in columns with carries and
    borrows, intermediate results written out, re-checks that catch real slips."""
    steps = _steps(terms)
    out = [rng.choice(("Okay, left to right.", "Okay, from the left.", "Alright, left to right."))]
    for i, (a, op, b, _) in enumerate(steps):
        lead = "First," if i == 0 else rng.choice(("Next,", "Then,", "Now,"))
        out.append(f"{lead} {teacher_step(a, op, b, rng)}")
    ans = steps[-1][3]
    return "<think>\n" + " ".join(out) + f"\n</think>\n<answer>\n{ans}\n</answer>"


def reference_solution(terms) -> str:
    parts = ", then ".join(f"{a} {SYM[op]} {b} = {r}" for a, op, b, r in _steps(terms))
    return f"Working from left to right: {parts}. The answer is $\\boxed{{{_steps(terms)[-1][3]}}}$."


def math_example(terms, rng: random.Random, task: str) -> dict:
    problem = rng.choice(PHRASES).format(e=_expr(terms))
    answer = str(_steps(terms)[-1][3])
    return {
        "task": task,
        "problem": problem,
        "answer": answer,
        "prompt": with_system(problem),
        "base_solution": base_solution(terms),
        "teacher_solution": teacher_solution(terms, rng),
        "solution": reference_solution(terms),
    }


def gsm_example(rng: random.Random) -> dict:
    """GSM8K analogue: the same arithmetic told as a short story, asked without the system prompt."""
    who, other = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    sents = [f"{who} has {a} {item}.", f"{who} buys {b} more."]
    terms = [("", a), ("+", b)]
    if rng.random() < 0.5:
        c = rng.randint(2, a + b - 1)
        sents.append(f"Then {who} gives {c} to {other}.")
        terms.append(("-", c))
    question = " ".join(sents) + f" How many {item} does {who} have now?"
    steps = _steps(terms)
    ans = steps[-1][3]
    work = " ".join(f"{x} {SYM[op]} {y} = {r}." for x, op, y, r in steps)
    return {
        "task": "gsm8k",
        "problem": question,
        "answer": str(ans),
        "prompt": [{"role": "user", "content": question}],
        "base_solution": f"{who} starts with {a}. {work} The answer is {ans}.",
    }
