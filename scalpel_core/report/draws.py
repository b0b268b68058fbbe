"""Verdicts across world draws, the unit of replication (world v3, issue 27; notebook 08).

    from scalpel_core.report import draws
    per_draw = draws.load("tiny")                 # {"tiny": numbers, "tiny-w1": ..., ...} (those present)
    combined = draws.combine(per_draw)            # check states and claim verdicts across the draws
    numbers = draws.attach(numbers, combined)     # draw 0's numbers.json, headline verdicts across draws

A world draw (``tiny``, ``tiny-w1``, ...; config ``n_worlds``) is its own world and base, with its
training seeds nested in it. Training seeds of one draw share that base and world, so they are not
independent replications; draws are.

**The verdict rule over world draws**, fixed and committed before any result of world version 3
existed (the paper names the commit); the rules within a draw are the verdicts issue's, unchanged
(:mod:`scalpel_core.report.claims`: each draw's check states come from its seeds by that module's
rule over seeds):

1. A check **holds** across draws when it holds in more than half of the draws where it was
   evaluated ("holds in k of n draws").
2. Otherwise it is **not testable here** when it is not testable in more than half of those draws,
   **underpowered** when it is underpowered in more than half, and else it **fails**. A check that
   holds in some draws but not in most is *draw-fragile* (it fails, and the paper lists it).
3. The frontier-run checks count only the draws that trained frontier points (notebook 07 trains
   them in draw 0 only, by cost): "k of 1". A draw without them does not evaluate those checks.
4. A claim's verdict follows rule 4 of :mod:`scalpel_core.report.claims` (:func:`~scalpel_core.report.claims.verdict`)
   on the across-draw states of its counted checks (a size-confounded check is reported and not
   counted, as within a draw), with claim 5's gate on its matched KL ordering.

There is no pooled estimate across draws: each draw has its own benchmark items, so the per-draw
estimates are listed side by side.
"""

from __future__ import annotations

import json

from .. import config, paths, worlds
from .claims import FAILS, HOLDS, KL_ORDERING, NOT_TESTABLE, UNDERPOWERED, state, verdict


def load(preset: str, name: str = "numbers.json") -> dict:
    """Every draw's ``numbers.json`` of ``preset``'s family that exists, draw 0 first."""
    out = {}
    for draw in worlds.draws(preset):
        path = paths.figures_dir(draw) / name
        if path.is_file():
            out[draw] = json.loads(path.read_text())
    return out


def combine_states(states: list) -> tuple[str, int, int, bool]:
    """(state, k, n, draw-fragile) of one check from its state in each draw, by the rule above."""
    states = [state(s) for s in states]
    n, k = len(states), sum(s == HOLDS for s in states)
    if not n:
        raise ValueError("a check needs its state in at least one draw")
    if k > n / 2:
        return HOLDS, k, n, False
    for other in (NOT_TESTABLE, UNDERPOWERED):
        if sum(s == other for s in states) > n / 2:
            return other, k, n, k > 0
    return FAILS, k, n, k > 0


FRONTIER_SOURCE = "frontier runs"  # claims' check_detail source of the checks on the frontier runs


def has_frontier(numbers: dict) -> bool:
    """Whether a draw trained frontier points (runs at a learning-rate factor other than 1; notebook 07)."""
    runs = (numbers.get("amplify") or {}).get("frontier_runs") or []
    return any(r.get("lr_factor", 1) != 1 for r in runs)


def combine(per_draw: dict) -> dict:
    """Check states and claim verdicts across the draws of ``per_draw`` ({draw: numbers})."""
    if not per_draw:
        raise ValueError("no draw's numbers to combine")
    names = list(per_draw)
    checks, counted = {}, {}
    for draw, numbers in per_draw.items():
        frontier = has_frontier(numbers)
        for c, cks in numbers["checks"].items():
            for name, value in cks.items():
                entry = checks.setdefault(c, {}).setdefault(name, {"states": {}, "estimates": {}})
                detail = numbers.get("check_detail", {}).get(c, {}).get(name, {})
                counted[(c, name)] = counted.get((c, name), True) and detail.get("counted", True)
                if detail.get("source") == FRONTIER_SOURCE and not frontier:
                    continue  # a draw without frontier runs does not evaluate the frontier checks (rule 3)
                entry["states"][draw] = state(value)
                entry["estimates"][draw] = detail.get("estimate", "")
    verdicts = {}
    for c, cks in checks.items():
        for name, entry in cks.items():
            if entry["states"]:
                entry["state"], entry["k"], entry["n"], entry["fragile"] = combine_states(list(entry["states"].values()))
            else:  # no draw trained the frontier
                entry["state"], entry["k"], entry["n"], entry["fragile"] = NOT_TESTABLE, 0, 0, False
            entry["counted"] = counted[(c, name)]
        verdicts[c] = verdict({name: e["state"] for name, e in cks.items() if e["counted"]})
    gate = checks.get("c5", {}).get(KL_ORDERING, {}).get("state")
    if gate in (FAILS, NOT_TESTABLE):  # claim 5's gate, as within a draw (claims._assess)
        verdicts["c5"] = "not reproduced" if gate == FAILS else NOT_TESTABLE
    return {"draws": names, "n_draws": len(names), "checks": checks, "verdicts": verdicts,
            "by_draw": {d: dict(n["verdicts"]) for d, n in per_draw.items()},
            "seeds_per_draw": {d: n.get("n_seeds") for d, n in per_draw.items()}}


def attach(numbers: dict, combined: dict) -> dict:
    """Draw 0's ``numbers`` with the across-draw results: ``numbers["draws"]``, and the headline
    ``verdicts`` across the draws (draw 0's own kept as ``draw0_verdicts``)."""
    out = dict(numbers)
    out["draw0_verdicts"] = dict(numbers.get("draw0_verdicts", numbers["verdicts"]))
    out["draws"] = combined
    out["verdicts"] = dict(combined["verdicts"])
    return out


def table(combined: dict):
    """claim x check: the state in each draw, "k of n" draws, the state across draws, and whether it counts."""
    import pandas as pd

    rows = []
    for c, cks in combined["checks"].items():
        for name, e in cks.items():
            rows.append({"claim": c[1:], "check": name, **{d: e["states"].get(d, "—") for d in combined["draws"]},
                         "draws": f"{e['k']} of {e['n']}", "across draws": e["state"] + (" (draw-fragile)" if e["fragile"] else ""),
                         "counted": "yes" if e["counted"] else "no (size-confounded)",
                         "verdict": combined["verdicts"][c]})
    return pd.DataFrame(rows).set_index(["claim", "verdict", "check"])


def across(preset: str, numbers: dict) -> dict:
    """Draw 0's ``numbers`` (of ``preset``) with every other draw's ``numbers.json`` combined in
    (notebook 08). ``numbers`` itself unchanged when the preset has one draw or is not draw 0; a
    draw whose numbers are missing is named in ``numbers["draws"]["missing"]`` and left out."""
    names = worlds.draws(preset)
    if config.draw_of(preset) or len(names) < 2:
        return numbers
    found = load(preset)
    found[preset] = numbers
    present = {d: found[d] for d in names if d in found}
    combined = combine(present)
    combined["missing"] = [d for d in names if d not in found]
    combined["commits"] = {d: code_commit(d) for d in present if d != preset}
    return attach(numbers, combined)


def code_commit(draw: str) -> str | None:
    """The git commit of the code that wrote ``figures/<draw>/numbers.json`` (its manifest entry; None
    where unrecorded), so that draws run apart (``scalpel reproduce --draw-only``) show their code."""
    manifest = paths.figures_dir(draw) / "manifest.json"
    try:
        return json.loads(manifest.read_text())["files"]["numbers.json"]["commit"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
