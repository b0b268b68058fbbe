"""Answer extraction and checking (math-verify), plus the format check of the paper's prompt.

Used by the maths benchmark analogues now and by GRPO's reward functions later.
"""

from __future__ import annotations

import logging
import re
import threading

from math_verify import parse, verify

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


def is_correct(completion: str, gold: str) -> bool:
    """Whether the completion's answer equals ``gold`` under math-verify.

    math-verify takes a ``\\boxed{}`` answer if there is one, else the last number.
    """
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
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
