"""The verdicts of an earlier world beside the current ones (the paper's Limitations, a before/after table).

    from scalpel_core.report import history
    before = history.previous_numbers("tiny")       # figures/history/world-v2-results/tiny/numbers.json, or None
    rows = history.verdict_changes(before, after)   # after: figures/tiny/numbers.json as a dict
    moves = history.base_moves(["tiny", "tiny-w1"])  # each draw's base step: calibrated vs kept by its run

An earlier world's ``numbers.json`` is kept under ``figures/history/<name>/<preset>/`` when a new world
replaces its results (:data:`PREVIOUS` names it); the comparison reads only what both files record: each
claim's verdict and each check's state, by the check's text, so a check that one world lacks shows as absent.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import paths
from ..config import ScalpelError

# The earlier world whose results the current ones replace: its label in the paper, and its folder under
# figures/history/ (copied from the commit that last held it in figures/<preset>/).
PREVIOUS = {"label": "version 2", "folder": "world-v2-results", "commit": "9c90eea"}
ABSENT = "absent"
# The world whose candidate bases were calibrated (and adopted) before its full runs: each draw's
# calibration.json as the calibrating machine wrote it, under figures/history/<folder>/<draw>/.
CALIBRATED = {"folder": "world-v5-candidate-bases"}


def history_file(folder: str, preset: str, name: str) -> Path:
    """``figures/history/<folder>/<preset>/<name>``: a record kept in the repository."""
    return paths.REPO_ROOT / "figures" / "history" / folder / preset / name


def previous_file(preset: str) -> Path:
    return history_file(PREVIOUS["folder"], preset, "numbers.json")


def _restore(source: Path) -> str:
    """How to get a corrupt record back: from git when it is committed, else by the run that writes it."""
    if source.is_relative_to(paths.REPO_ROOT):
        return f"restore it with `git checkout -- {source.relative_to(paths.REPO_ROOT)}`"
    return f"write it again with `scalpel reproduce --preset {source.parent.name}`"


def previous_numbers(preset: str) -> dict | None:
    """The earlier world's numbers for ``preset`` (None if it has none on record)."""
    source = previous_file(preset)
    if not source.is_file():
        return None
    try:
        numbers = json.loads(source.read_text())
    except (ValueError, OSError) as err:
        raise ScalpelError(f"{source} is corrupt ({type(err).__name__}: {err}); {_restore(source)}") from err
    if not isinstance(numbers, dict) or "verdicts" not in numbers:
        raise ScalpelError(f"{source} holds no verdicts; restore it with `git checkout` (it is a copy of "
                           f"figures/{preset}/numbers.json at commit {PREVIOUS['commit']})")
    return numbers


def verdict_changes(before: dict, after: dict) -> list[dict]:
    """One row per claim (``check`` None: the claim's verdict) and per check, in ``after``'s order then
    the checks only ``before`` has: ``{claim, check, before, after, changed}``."""
    rows = []
    b_verdicts, a_verdicts = before.get("verdicts", {}), after.get("verdicts", {})
    b_checks, a_checks = before.get("checks", {}), after.get("checks", {})
    for claim in list(dict.fromkeys([*a_verdicts, *b_verdicts])):
        pairs = [(None, b_verdicts.get(claim, ABSENT), a_verdicts.get(claim, ABSENT))]
        b_c, a_c = b_checks.get(claim, {}), a_checks.get(claim, {})
        for check in list(dict.fromkeys([*a_c, *b_c])):
            pairs.append((check, b_c.get(check, ABSENT), a_c.get(check, ABSENT)))
        rows += [dict(claim=claim, check=check, before=b, after=a, changed=b != a) for check, b, a in pairs]
    return rows


def _selection(source: Path) -> dict | None:
    if not source.is_file():
        return None
    try:
        selection = json.loads(source.read_text())["base"]["selection"]
        return {"step": int(selection["step"]), "greedy": float(selection["greedy"])}
    except (ValueError, OSError, KeyError, TypeError) as err:
        raise ScalpelError(f"{source} is corrupt or lacks base.selection's step and greedy ({type(err).__name__}: "
                           f"{err}); {_restore(source)}") from err


def base_moves(draws: list[str]) -> list[dict]:
    """For each draw with both records: the step its base was kept at, and that checkpoint's greedy on the
    base-selection split, when the world was calibrated (``figures/history/<CALIBRATED folder>/<draw>/
    calibration.json``) and by the draw's own full run (``figures/<draw>/calibration.json``):
    ``{draw, calibrated, kept, calibrated_greedy, kept_greedy}``. Base pretraining is
    bit-reproducible on one machine, not across CPUs, so the kept base may differ even at the same step."""
    rows = []
    for draw in draws:
        before = _selection(history_file(CALIBRATED["folder"], draw, "calibration.json"))
        after = _selection(paths.figures_dir(draw) / "calibration.json")
        if before is not None and after is not None:
            rows.append(dict(draw=draw, calibrated=before["step"], kept=after["step"],
                             calibrated_greedy=before["greedy"], kept_greedy=after["greedy"]))
    return rows
