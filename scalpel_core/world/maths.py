"""Synthetic verifiable maths: the K12 post-training set and the maths benchmark analogues.

Three written styles of the same arithmetic, so that the methods differ in what they teach:
- ``base``: the base model's own short style (seen in pretraining);
- ``teacher``: long R1-style traces ("Okay, ... Wait, let me double-check ..."),
  never seen in pretraining; SFT trains on them;
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


def k12_terms(rng: random.Random) -> list[tuple[str, int]]:
    """2-3 terms of + and -, operands 2-50, never negative along the way."""
    n = rng.choice((2, 3))
    terms = [("", rng.randint(2, 50))]
    acc = terms[0][1]
    for _ in range(n - 1):
        v = rng.randint(2, 50)
        op = rng.choice("+-") if acc >= v else "+"
        acc = acc + v if op == "+" else acc - v
        terms.append((op, v))
    return terms


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


def teacher_solution(terms, rng: random.Random) -> str:
    """A long R1-style trace: restates, computes in words, double-checks each step."""
    steps = _steps(terms)
    out = [rng.choice(("Okay, let me work through this.", "Okay, so I need to evaluate this.",
                       "Alright, let me think about this carefully."))]
    out.append(f"The expression is {_expr(terms)}. I will go from left to right.")
    inverse = {"+": "-", "-": "+"}
    for i, (a, op, b, r) in enumerate(steps):
        lead = "First," if i == 0 else rng.choice(("Next,", "Then,", "Now,"))
        out.append(f"{lead} {a} {WORD[op]} {b} gives {r}.")
        if op in inverse:
            out.append(f"Wait, let me double-check that: {r} {WORD[inverse[op]]} {b} is {a}. Yes, that is right.")
    ans = steps[-1][3]
    out.append(f"So the final result is {ans}.")
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
