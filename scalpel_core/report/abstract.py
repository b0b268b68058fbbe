"""The paper's front page, generated from ``numbers.json``: effect sizes and the answer to the title.

    text = abstract.effects_text(numbers)     # what each method did in and out of domain, with 95% intervals
    text = abstract.answer(numbers)           # "amplify or replace?" and how strong the evidence is

Every sentence is computed from the numbers (notebook 08 stores them under ``numbers["abstract"]``),
so the front page cannot say more than the checks do.
"""

from __future__ import annotations

METHODS = {"grpo": "GRPO", "sft1ep": "SFT-1ep", "sft3ep": "SFT-3ep"}
OUTCOMES = {"in_domain": ("in domain (MATH-500 analogue accuracy)", "accuracy"),
            "ood_accuracy": ("out of domain (mean accuracy change over MMLU, MMLU-Pro, GPQA, IFEval)", "accuracy"),
            "ood_retention": ("out-of-domain retention (mean change, nats)", "nats")}


def direction(e: dict) -> str:
    """"rose", "fell" or "did not change significantly", from a 95% interval."""
    return "rose" if e["lo"] > 0 else "fell" if e["hi"] < 0 else "did not change significantly"


def fmt(e: dict) -> str:
    return f"{e['delta']:+.3f} [{e['lo']:+.3f}, {e['hi']:+.3f}]"


def effects_text(numbers: dict) -> str:
    """One sentence per method: its in-domain and out-of-domain changes against the base."""
    effects = numbers.get("effects") or {}
    out = []
    for m, name in METHODS.items():
        if m not in effects:
            continue
        parts = [f"{OUTCOMES[o][0]} {fmt(effects[m][o])} ({direction(effects[m][o])})"
                 for o in OUTCOMES if o in effects[m]]
        out.append(f"{name}: " + "; ".join(parts) + ".")
    return " ".join(out)


def _tally(numbers: dict, claim: str) -> dict:
    detail = numbers["check_detail"].get(claim, {})
    counted = {n: d for n, d in detail.items() if d.get("counted", True)}
    states = [d["state"] for d in counted.values()]
    knife = [n for n, s in numbers.get("sensitivity", {}).get(claim, {}).items() if s["knife_edge"] and n in counted]
    return {"n": len(states), **{s: states.count(s) for s in ("holds", "fails", "not testable here", "underpowered")},
            "knife_edge": len(knife)}


def strength(numbers: dict, claim: str = "c7") -> str:
    """How strong the evidence for ``claim`` is: strong (every counted check holds, none
    knife-edge), moderate (holds, but some checks are knife-edge), mixed (partly reproduced),
    against (not reproduced), or weak (underpowered or not testable here)."""
    v = numbers["verdicts"].get(claim)
    t = _tally(numbers, claim)
    if v == "reproduced":
        return "moderate" if t["knife_edge"] else "strong"
    return {"partly reproduced": "mixed", "not reproduced": "against"}.get(v, "weak")


def answer(numbers: dict) -> str:
    """The answer to "does GRPO amplify and SFT replace?" in one paragraph, with its premise (does
    any method gain in domain?) and the strength of the evidence."""
    effects = numbers.get("effects") or {}
    gains = [METHODS[m] for m in METHODS if m in effects and "in_domain" in effects[m]
             and effects[m]["in_domain"]["lo"] > 0]
    t = _tally(numbers, "c7")
    s = strength(numbers)
    lead = (f"{' and '.join(gains)} gain{'s' if len(gains) == 1 else ''} in domain, so the title's comparison — what "
            "each method costs while it gains — can be made for " + ("it" if len(gains) == 1 else "them") + "."
            if gains else
            "Neither method gains in domain here (no in-domain interval lies above 0), so the title's comparison — what "
            "each method costs while it gains — cannot be made in this world; the checks below test the mechanisms "
            "the title names, not the trade-off itself.")
    tally = (f"Of claim 7's {t['n']} counted checks, {t['holds']} hold, {t['fails']} fail, {t['underpowered']} are "
             f"underpowered and {t['not testable here']} are not testable here"
             + (f"; {t['knife_edge']} flip at half or double their threshold" if t["knife_edge"] else "") + ".")
    verdict = numbers["verdicts"].get("c7")
    say = {"strong": "The evidence supports the title: GRPO amplifies and SFT replaces.",
           "moderate": "The evidence supports the title, but it rests on thresholds it is sensitive to.",
           "mixed": "The evidence is mixed: some of the title's mechanisms are seen here and others are not.",
           "against": "The evidence is against the title in this world.",
           "weak": "The evidence is too weak to answer the title in this world."}[s]
    return f"{lead} {tally} Claim 7 is **{verdict}**; strength of the evidence: **{s}**. {say}"


def build(numbers: dict) -> dict:
    """What notebook 08 stores as ``numbers["abstract"]``."""
    return {"effects": effects_text(numbers), "answer": answer(numbers), "strength": strength(numbers)}
