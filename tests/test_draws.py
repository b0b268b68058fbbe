"""Verdicts across world draws (scalpel_core.report.draws): the rule goes either way, claim 5's gate
and the counted flag carry over, and notebook 08's combination reads every draw's numbers.json."""

from __future__ import annotations

import json

import pytest

from scalpel_core import config, worlds
from scalpel_core.report import claims, draws

H, F, NT, UP = claims.HOLDS, claims.FAILS, claims.NOT_TESTABLE, claims.UNDERPOWERED


@pytest.mark.parametrize("states, expected", [
    ([H, H, F], (H, 2, 3, False)),          # a majority holds
    ([H, F, F], (F, 1, 3, True)),           # holds in one draw only: fails, draw-fragile
    ([H, F], (F, 1, 2, True)),              # half is not more than half
    ([H], (H, 1, 1, False)),                # a frontier check: draw 0 only
    ([NT, NT, H], (NT, 1, 3, True)),        # not testable in most draws
    ([UP, UP, F], (UP, 0, 3, False)),
    ([UP, NT, F], (F, 0, 3, False)),        # no majority state: fails
    ([True, False, True], (H, 2, 3, False)),  # booleans as claims writes them
])
def test_combine_states_is_a_majority_of_draws(states, expected):
    assert draws.combine_states(states) == expected


def _numbers(states: dict, counted=None, seeds=1, frontier=(), trained_frontier=False):
    """A numbers.json of one draw: claim -> {check: state}, each check's detail (``frontier``: the
    names of checks on the frontier runs), its verdicts, and whether it trained frontier points."""
    counted = counted or {}
    detail = {c: {n: {"estimate": f"est {s}", "counted": counted.get(n, True),
                      "source": draws.FRONTIER_SOURCE if n in frontier else "seeds"} for n, s in cks.items()}
              for c, cks in states.items()}
    verdicts = {c: claims.verdict({n: s for n, s in cks.items() if counted.get(n, True)}) for c, cks in states.items()}
    runs = [{"run": "grpo-s0", "lr_factor": 1.0}] + ([{"run": "grpo-lr3x-s0", "lr_factor": 3.0}] if trained_frontier else [])
    return {"checks": states, "check_detail": detail, "verdicts": verdicts, "n_seeds": seeds,
            "amplify": {"frontier_runs": runs}}


def test_frontier_checks_count_only_the_draws_that_trained_the_frontier():
    """Draw 0 trains the frontier; the other draws' frontier checks read "not testable here" for want
    of runs, and are left out: "k of 1"; with no frontier anywhere, the check is not testable, 0 of 0."""
    f = {"c9": {"sparser at matched size": H, "seeds check": H}}
    g = {"c9": {"sparser at matched size": NT, "seeds check": F}}
    per = {"tiny": _numbers(f, frontier={"sparser at matched size"}, trained_frontier=True),
           "tiny-w1": _numbers(g, frontier={"sparser at matched size"})}
    e = draws.combine(per)["checks"]["c9"]
    assert (e["sparser at matched size"]["state"], e["sparser at matched size"]["k"], e["sparser at matched size"]["n"]) == (H, 1, 1)
    assert (e["seeds check"]["state"], e["seeds check"]["n"]) == (F, 2)
    per["tiny"] = _numbers(g, frontier={"sparser at matched size"})
    e = draws.combine(per)["checks"]["c9"]["sparser at matched size"]
    assert (e["state"], e["k"], e["n"]) == (NT, 0, 0)


def test_combine_counts_draws_keeps_the_counted_flag_and_claim_5s_gate():
    a = {"c1": {"gain": H, "loss": H, "as run": H}, "c5": {claims.KL_ORDERING: F, "shape": H}}
    b = {"c1": {"gain": H, "loss": F, "as run": F}, "c5": {claims.KL_ORDERING: F, "shape": H}}
    c = {"c1": {"gain": F, "loss": F, "as run": F}, "c5": {claims.KL_ORDERING: H, "shape": H}}
    per = {"tiny": _numbers(a, {"as run": False}), "tiny-w1": _numbers(b, {"as run": False}),
           "tiny-w2": _numbers(c, {"as run": False})}
    out = draws.combine(per)
    gain, loss, as_run = (out["checks"]["c1"][k] for k in ("gain", "loss", "as run"))
    assert (gain["state"], gain["k"], gain["n"]) == (H, 2, 3)
    assert (loss["state"], loss["fragile"]) == (F, True)
    assert not as_run["counted"] and as_run["states"] == {"tiny": H, "tiny-w1": F, "tiny-w2": F}
    assert out["verdicts"]["c1"] == "partly reproduced"  # gain holds, loss fails; "as run" not counted
    assert out["verdicts"]["c5"] == "not reproduced"  # the matched ordering fails in 2 of 3 draws
    assert out["by_draw"]["tiny-w2"]["c1"] == "not reproduced" and out["draws"] == list(per)
    per["tiny-w1"]["checks"]["c1"]["loss"] = H
    assert draws.combine(per)["verdicts"]["c1"] == "reproduced"  # the rule goes the other way too
    table = draws.table(out)
    assert list(table.columns[:3]) == ["tiny", "tiny-w1", "tiny-w2"] and len(table) == 5


def test_across_reads_every_draw_and_names_the_missing(tmp_path, monkeypatch):
    """Notebook 08 of draw 0 combines the numbers.json of the other draws of smoke (n_worlds 2);
    another draw's notebook 08, or a preset of one draw, leaves its numbers alone."""
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path))
    assert config.load("smoke").n_worlds == 2
    own = _numbers({"c1": {"gain": H}})
    missing = draws.across("smoke", own)
    assert missing["draws"]["missing"] == ["smoke-w1"] and missing["draws"]["n_draws"] == 1
    (tmp_path / "smoke-w1").mkdir()
    (tmp_path / "smoke-w1" / "numbers.json").write_text(json.dumps(_numbers({"c1": {"gain": F}})))
    both = draws.across("smoke", own)
    assert both["draws"]["missing"] == [] and both["draws"]["checks"]["c1"]["gain"]["k"] == 1
    assert both["verdicts"]["c1"] == "not reproduced" and both["draw0_verdicts"]["c1"] == "reproduced"
    assert both["draws"]["commits"] == {"smoke-w1": None}  # no manifest: the code is unrecorded
    (tmp_path / "smoke-w1" / "manifest.json").write_text(json.dumps({"files": {"numbers.json": {"commit": "abc1234"}}}))
    assert draws.across("smoke", own)["draws"]["commits"] == {"smoke-w1": "abc1234"}
    assert draws.across("smoke-w1", own) is own
    assert draws.across("smoke", own, ) is not own and "draws" not in own
    monkeypatch.setattr(worlds, "draws", lambda preset: [preset])
    assert draws.across("smoke", own) is own


def test_the_paper_shows_the_verdicts_across_draws(tmp_path, monkeypatch):
    """Numbers combined over three draws (the committed tiny numbers as draw 0, copies in which every
    check of claim 1 holds as draws 1 and 2) render the across-draw summary and appendix, every draw
    named, and the headline verdicts those across draws, not draw 0's."""
    import shutil

    from scalpel_core import paths
    from scalpel_core.report import paper

    own = json.loads(paper.numbers_file("tiny").read_text())
    manifest = paths.figures_dir("tiny") / "manifest.json"
    assert own["verdicts"]["c1"] != "reproduced"
    other = json.loads(json.dumps(own))
    other["checks"]["c1"] = {name: True for name in other["checks"]["c1"]}
    other["verdicts"]["c1"] = "reproduced"
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path))
    monkeypatch.setattr(worlds, "draws", lambda preset: ["tiny", "tiny-w1", "tiny-w2"])
    for name in ("tiny", "tiny-w1", "tiny-w2"):
        (tmp_path / name).mkdir()
    for name in ("tiny-w1", "tiny-w2"):
        (tmp_path / name / "numbers.json").write_text(json.dumps(other))
    shutil.copy(manifest, tmp_path / "tiny" / "manifest.json")
    numbers = draws.across("tiny", own)
    (tmp_path / "tiny" / "numbers.json").write_text(json.dumps(numbers))
    assert numbers["draws"]["draws"] == ["tiny", "tiny-w1", "tiny-w2"] and not numbers["draws"]["missing"]
    assert numbers["verdicts"]["c1"] == "reproduced" and numbers["draw0_verdicts"]["c1"] == own["verdicts"]["c1"]
    text = paper.render("tiny")[0]
    assert "**Across world draws.**" in text and "## Appendix: every check across world draws" in text
    assert "written by the code of commits `unrecorded` (tiny-w1), `unrecorded` (tiny-w2)." in " ".join(text.split())
    by_draw = numbers["draws"]["by_draw"]
    for c, v in numbers["draws"]["verdicts"].items():
        assert f"| {c[1:]} | **{v}** | {by_draw['tiny'][c]} | {by_draw['tiny-w1'][c]} | {by_draw['tiny-w2'][c]} |" in text
