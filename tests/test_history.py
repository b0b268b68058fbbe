"""The before/after verdict table (scalpel_core.report.history): rows per claim and per check, changes
flagged, a check one world lacks shown as absent; a missing earlier world gives None, a corrupt one a
ScalpelError naming the fix; the paper renderer passes the rows to its template."""

import json

import pytest

from scalpel_core import paths
from scalpel_core.config import ScalpelError
from scalpel_core.report import history, paper


def _numbers(verdicts, checks):
    return {"verdicts": verdicts, "checks": checks}


def test_rows_follow_the_later_world_and_flag_every_change():
    before = _numbers({"c1": "not reproduced", "c2": "reproduced"},
                      {"c1": {"gains": "fails", "old check": "holds"}, "c2": {"x": "holds"}})
    after = _numbers({"c1": "reproduced", "c2": "reproduced"},
                     {"c1": {"new check": "holds", "gains": "holds"}, "c2": {"x": "holds"}})
    rows = history.verdict_changes(before, after)
    key = {(r["claim"], r["check"]): (r["before"], r["after"], r["changed"]) for r in rows}
    assert [(r["claim"], r["check"]) for r in rows] == [
        ("c1", None), ("c1", "new check"), ("c1", "gains"), ("c1", "old check"), ("c2", None), ("c2", "x")]
    assert key[("c1", None)] == ("not reproduced", "reproduced", True)
    assert key[("c1", "new check")] == (history.ABSENT, "holds", True)
    assert key[("c1", "old check")] == ("holds", history.ABSENT, True)
    assert key[("c1", "gains")] == ("fails", "holds", True)
    assert key[("c2", None)] == ("reproduced", "reproduced", False)
    assert key[("c2", "x")] == ("holds", "holds", False)
    assert not any(r["changed"] for r in history.verdict_changes(after, after))


def test_previous_numbers_missing_corrupt_and_present(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    assert history.previous_numbers("tiny") is None
    source = history.previous_file("tiny")
    source.parent.mkdir(parents=True)
    source.write_text("{not json")
    with pytest.raises(ScalpelError, match="is corrupt .*git checkout"):
        history.previous_numbers("tiny")
    source.write_text(json.dumps({"preset": "tiny"}))
    with pytest.raises(ScalpelError, match="holds no verdicts"):
        history.previous_numbers("tiny")
    source.write_text(json.dumps(_numbers({"c1": "reproduced"}, {})))
    assert history.previous_numbers("tiny")["verdicts"] == {"c1": "reproduced"}


def test_the_paper_template_receives_the_rows(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    monkeypatch.setenv("SCALPEL_FIGURES", str(figures))
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    (figures / "smoke").mkdir(parents=True)
    paper.numbers_file("smoke").write_text(json.dumps(_numbers({"c1": "reproduced"}, {"c1": {"a": "holds"}})))
    (tmp_path / paper.TEMPLATE).write_text(
        "{{ previous.label }}:{% for r in changes %} {{ r.claim }}/{{ r.check }}={{ r.before }}>{{ r.after }}{% endfor %}")
    assert paper.render("smoke", template_dir=tmp_path)[0] == f"{history.PREVIOUS['label']}:"
    source = history.previous_file("smoke")
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(_numbers({"c1": "not reproduced"}, {"c1": {"a": "fails"}})))
    assert paper.render("smoke", template_dir=tmp_path)[0] == (
        f"{history.PREVIOUS['label']}: c1/None=not reproduced>reproduced c1/a=fails>holds")


def _calibration(path, step, greedy=0.4):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"base": {"selection": {"step": step, "greedy": greedy}}}))


def test_base_moves_compare_the_calibrated_and_the_kept_step(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    monkeypatch.setenv("SCALPEL_FIGURES", str(figures))
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    record = figures / "history" / history.CALIBRATED["folder"]
    _calibration(record / "tiny" / "calibration.json", 1260, 0.53)
    _calibration(figures / "tiny" / "calibration.json", 1260, 0.41)  # the same step, another base
    _calibration(record / "tiny-w1" / "calibration.json", 1170)
    _calibration(figures / "tiny-w1" / "calibration.json", 1080)
    _calibration(record / "tiny-w2" / "calibration.json", 1440)  # never run in full: no row
    rows = history.base_moves(["tiny", "tiny-w1", "tiny-w2"])
    assert rows == [dict(draw="tiny", calibrated=1260, kept=1260, calibrated_greedy=0.53, kept_greedy=0.41),
                    dict(draw="tiny-w1", calibrated=1170, kept=1080, calibrated_greedy=0.4, kept_greedy=0.4)]
    (figures / "tiny-w1" / "calibration.json").write_text("{\"base\": {}}")
    with pytest.raises(ScalpelError, match="lacks base.selection's step and greedy .*git checkout"):
        history.base_moves(["tiny-w1"])
    _calibration(figures / "tiny-w1" / "calibration.json", 1080)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-figures"  # SCALPEL_FIGURES outside the repository
    monkeypatch.setenv("SCALPEL_FIGURES", str(elsewhere))
    (elsewhere / "tiny-w1").mkdir(parents=True)
    (elsewhere / "tiny-w1" / "calibration.json").write_text("not json")
    with pytest.raises(ScalpelError, match="is corrupt .*scalpel reproduce --preset tiny-w1"):
        history.base_moves(["tiny-w1"])
    monkeypatch.setenv("SCALPEL_FIGURES", str(figures))
    paper.numbers_file("tiny").write_text(json.dumps({"verdicts": {}, "draws": {"draws": ["tiny", "tiny-w1"]}}))
    (tmp_path / paper.TEMPLATE).write_text("{% for m in moves %}{{ m.draw }}:{{ m.calibrated }}>{{ m.kept }} {% endfor %}")
    assert paper.render("tiny", template_dir=tmp_path)[0] == "tiny:1260>1260 tiny-w1:1170>1080 "
