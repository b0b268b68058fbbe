"""Answer extraction and checking (math-verify), plus the format check of the paper's prompt.

Two graders, each a pair of GRPO reward functions (:data:`REWARDS`, config key ``reward_style``):

- ``ours`` (the miniature default, and the benchmark analogues' grader): the gold answer is the
  ``answer`` column, the model's answer the last ``<answer>`` block (math-verify takes a
  ``\\boxed{}`` there, else the last number); the format may be surrounded by whitespace.
- ``authors`` (the paper-scale default; paper/ORIGINAL.md, "What the authors' code ran", [code]
  ``src/open_r1/rewards.py``): the gold answer is parsed from the ``solution`` text, first LaTeX
  match; the model's answer from the whole completion with LaTeX extraction, ``\\boxed{}`` first
  and no un-anchored numbers; an unparseable gold answer gives ``None`` (TRL skips the example);
  the format regex allows nothing before ``<think>`` and ends at a line end after ``</answer>``
  (their ``re.MULTILINE`` lets text follow on later lines).
"""

from __future__ import annotations

import logging
import re
import threading

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify

# math-verify's timeouts use signal.alarm, which only works in the main thread. Elsewhere
# we turn them off, and silence the warning it logs on every call when they are off.
for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).setLevel(logging.ERROR)

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# The shape the system prompt asks for: <think>\n...\n</think>\n<answer>\n...\n</answer>
FORMAT_RE = re.compile(r"^\s*<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>\s*$", re.DOTALL)


def extract_answer(completion: str) -> str:
    """The text of the last ``<answer>...</answer>`` block, or the whole completion if none."""
    found = ANSWER_RE.findall(completion)
    return found[-1].strip() if found else completion


def _timeout() -> int | None:
    """math-verify's timeout in seconds: 5 in the main thread, none elsewhere (see above)."""
    return 5 if threading.current_thread() is threading.main_thread() else None


def is_correct(completion: str, gold: str) -> bool:
    """Whether the completion's answer equals ``gold`` under math-verify.

    math-verify takes a ``\\boxed{}`` answer if there is one, else the last number.
    """
    timeout = _timeout()
    gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
    if not gold_parsed:
        raise ValueError(f"math-verify cannot parse the gold answer {gold!r}")
    pred = parse(extract_answer(completion), parsing_timeout=timeout)
    return bool(pred) and verify(gold_parsed, pred, timeout_seconds=timeout)


def has_format(completion: str) -> bool:
    """Whether the completion has exactly the <think>/<answer> shape the system prompt asks for."""
    return FORMAT_RE.match(completion) is not None


# --- GRPO reward functions (TRL calls them with the completions and the dataset's columns) ---

def _text(completion) -> str:
    """A completion as text: TRL passes a string, or a list of chat messages."""
    return completion[-1]["content"] if isinstance(completion, list) else completion


def accuracy_reward(completions, answer, **kwargs) -> list[float]:
    """1.0 when the answer equals the gold ``answer`` column under math-verify, else 0.0 (paper)."""
    return [float(is_correct(_text(c), gold)) for c, gold in zip(completions, answer)]


def format_reward(completions, **kwargs) -> list[float]:
    """1.0 when the completion has the <think>/<answer> shape of the system prompt, else 0.0 (paper)."""
    return [float(has_format(_text(c))) for c in completions]


# --- the authors' graders (open-r1 as they ran it) ---------------------------------------------

AUTHORS_FORMAT_RE = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)
_AUTHORS_ANSWER = [LatexExtractionConfig(
    # the authors also passed equations=True, which today's latex2sympy2 deprecates (the parser does it)
    normalization_config=NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True,
                                             boxed="all", units=True),
    boxed_match_priority=0, try_extract_without_anchor=False)]


def authors_is_correct(completion: str, solution: str) -> bool | None:
    """The authors' accuracy check: ``None`` when the gold ``solution`` has no parseable answer."""
    timeout = _timeout()
    gold = parse(solution, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()],
                 parsing_timeout=timeout)
    if not gold:
        return None
    pred = parse(completion, extraction_config=_AUTHORS_ANSWER, extraction_mode="first_match",
                 parsing_timeout=timeout)
    try:
        return bool(verify(gold, pred, timeout_seconds=timeout))
    except Exception:  # the authors' code scored a failing verification as wrong
        return False


def authors_accuracy_reward(completions, solution, **kwargs) -> list[float | None]:
    """1.0 / 0.0 by :func:`authors_is_correct`; ``None`` (the example is skipped) for an unparseable gold."""
    out = []
    for c, sol in zip(completions, solution):
        ok = authors_is_correct(_text(c), sol)
        out.append(None if ok is None else float(ok))
    return out


def authors_format_reward(completions, **kwargs) -> list[float]:
    """1.0 when the completion is exactly ``<think>\\n...\\n</think>\\n<answer>\\n...\\n</answer>``."""
    return [float(AUTHORS_FORMAT_RE.match(_text(c)) is not None) for c in completions]


# reward_style -> (accuracy, format) reward functions, in the order of reward_weights
REWARDS = {"ours": (accuracy_reward, format_reward), "authors": (authors_accuracy_reward, authors_format_reward)}


def grader_disagreement(completions: list[str], answers: list[str], solutions: list[str]) -> dict:
    """How often our and the authors' graders disagree on the same completions: shares of the
    accuracy verdicts (over the items whose gold the authors' grader can parse) and of the format
    verdicts, with the counts behind them."""
    ours = [is_correct(c, a) for c, a in zip(completions, answers)]
    theirs = [authors_is_correct(c, s) for c, s in zip(completions, solutions)]
    scored = [(o, t) for o, t in zip(ours, theirs) if t is not None]
    fmt = [(has_format(c), AUTHORS_FORMAT_RE.match(c) is not None) for c in completions]
    return {"n": len(completions), "gold_unparseable": sum(t is None for t in theirs),
            "accuracy_ours": sum(o for o, _ in scored) / max(len(scored), 1),
            "accuracy_authors": sum(t for _, t in scored) / max(len(scored), 1),
            "accuracy_disagree": sum(o != t for o, t in scored) / max(len(scored), 1),
            "format_ours": sum(o for o, _ in fmt) / max(len(fmt), 1),
            "format_authors": sum(t for _, t in fmt) / max(len(fmt), 1),
            "format_disagree": sum(o != t for o, t in fmt) / max(len(fmt), 1)}


GRADER_COLUMNS = ("model", "n", "gold_unparseable", "accuracy_ours", "accuracy_authors", "accuracy_disagree",
                  "format_ours", "format_authors", "format_disagree")


def grader_table(items: dict | None, problems: list[dict], benchmark: str = "math500"):
    """One row per model: :func:`grader_disagreement` on its greedy completions of ``benchmark``
    (``items``: model -> benchmark -> per-item records with ``completion``; ``problems``: the same
    items' ``answer`` and ``solution``). ``items=None`` (paper scale, where lm-eval keeps its own
    logs) gives an empty table with the same columns."""
    import pandas as pd

    rows = []
    for model, per in (items or {}).items():
        completions = [r["completion"] for r in per[benchmark]]
        rows.append({"model": model, **grader_disagreement(
            completions, [p["answer"] for p in problems], [p["solution"] for p in problems])})
    return pd.DataFrame(rows, columns=list(GRADER_COLUMNS))
