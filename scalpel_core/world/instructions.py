"""IFEval analogue: list-making prompts with verifiable format constraints.

Prompt-level accuracy: all of a prompt's instructions satisfied. Instruction-level:
the fraction of all instructions satisfied, pooled over prompts (as IFEval does).
"""

from __future__ import annotations

import random
import re

from .facts import ATTRIBUTES

CATEGORY = {"colors": "color", "cities": "city", "animals": "pet"}
WORDS = ("done", "thanks", "bye", "cheers")
CONSTRAINTS = ("upper", "lower", "lines", "start", "end", "quotes")
TEXT = {
    "upper": "Write everything in capital letters.",
    "lower": "Write everything in lowercase letters.",
    "lines": "Put each item on its own line.",
    "start": "Start your response with the word {w}.",
    "end": "End your response with the word {w}.",
    "quotes": "Wrap your entire response in double quotes.",
}
CONFLICTS = {frozenset(("upper", "lower"))}


def sample_instructions(rng: random.Random) -> dict:
    cat = rng.choice(sorted(CATEGORY))
    k = rng.randint(2, 4)
    n, chosen = rng.choice((1, 2, 3)), []
    for c in rng.sample(CONSTRAINTS, len(CONSTRAINTS)):
        if len(chosen) == n:
            break
        if not any(frozenset((c, o)) in CONFLICTS for o in chosen):
            chosen.append(c)
    words = {c: rng.choice(WORDS) for c in chosen if c in ("start", "end")}
    return {"category": cat, "k": k, "constraints": sorted(chosen), "words": words}


def prompt_text(spec: dict) -> str:
    parts = [f"List {spec['k']} {spec['category']}."]
    parts += [TEXT[c].format(w=spec["words"].get(c, "")) for c in spec["constraints"]]
    return " ".join(parts)


def respond(spec: dict, rng: random.Random, follow: bool = True) -> str:
    """A response to the bare task; with ``follow`` it also satisfies every constraint."""
    items = [v.capitalize() for v in rng.sample(ATTRIBUTES[CATEGORY[spec["category"]]], spec["k"])]
    cons = spec["constraints"] if follow else []
    if "upper" in cons:
        items = [i.upper() for i in items]
    if "lower" in cons:
        items = [i.lower() for i in items]
    text = ("\n" if "lines" in cons else ", ").join(items)
    if "start" in cons:
        w = spec["words"]["start"]
        text = (w.upper() if "upper" in cons else w.capitalize() if "lower" not in cons else w) + "\n" + text
    if "end" in cons:
        w = spec["words"]["end"]
        text = text + "\n" + (w.upper() if "upper" in cons else w)
    if "quotes" in cons:
        text = f'"{text}"'
    return text


def check(spec: dict, response: str) -> dict[str, bool]:
    """Which instructions ``response`` satisfies: the item count plus each constraint."""
    vocab = {v.lower() for v in ATTRIBUTES[CATEGORY[spec["category"]]]}
    body = response.strip()
    words = re.findall(r"[A-Za-z]+", body)
    found = [w.lower() for w in words if w.lower() in vocab]
    result = {"count": len(found) == spec["k"] and len(set(found)) == spec["k"]}
    letters = [ch for ch in body if ch.isalpha()]
    unquoted = body.strip('"').strip()
    for c in spec["constraints"]:
        if c == "upper":
            ok = bool(letters) and all(ch.isupper() for ch in letters)
        elif c == "lower":
            ok = bool(letters) and all(ch.islower() for ch in letters)
        elif c == "lines":
            lines = [ln for ln in unquoted.splitlines() if any(w.lower() in vocab for w in re.findall(r"[A-Za-z]+", ln))]
            ok = len(lines) == spec["k"] and all(
                sum(w.lower() in vocab for w in re.findall(r"[A-Za-z]+", ln)) == 1 for ln in lines)
        elif c == "start":
            ok = unquoted.lower().startswith(spec["words"]["start"])
        elif c == "end":
            ok = unquoted.lower().rstrip(".!").endswith(spec["words"]["end"])
        else:  # quotes
            ok = len(body) > 1 and body.startswith('"') and body.endswith('"')
        result[c] = ok
    return result


def ifeval_item(rng: random.Random) -> dict:
    """A prompt, its constraints (``spec``) and a ``gold`` response that follows all of them."""
    spec = sample_instructions(rng)
    return {"task": "ifeval", "prompt": [{"role": "user", "content": prompt_text(spec)}], "spec": spec,
            "gold": respond(spec, rng)}
