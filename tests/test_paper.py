"""The reproduction paper (paper/): every figure it references exists and was produced by the plan;
the committed build is what the committed numbers render to; a typo in the template fails the build."""

import json

import pytest

from scalpel_core import paths
from scalpel_core.pipeline import plan
from scalpel_core.report import paper

PRESET = "tiny"  # the committed results


@pytest.fixture(scope="module")
def rendered():
    return paper.render(PRESET)


def test_every_referenced_figure_exists_and_comes_from_the_plan(rendered):
    _, figures = rendered
    assert figures, "the paper references no figure"
    manifest = json.loads((paths.figures_dir(PRESET) / "manifest.json").read_text())["files"]
    steps = {s.name: s for s in plan.load()}
    for name in figures:
        for ext in ("png", "pdf"):
            assert (paths.figures_dir(PRESET) / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"
            entry = manifest[f"{name}.{ext}"]
            step = steps[entry["step"]]  # a step of plan.yaml ...
            assert entry["notebook"] == f"notebooks/{step.notebook.name}"  # ... whose notebook wrote it
            assert entry["parameters"] == step.all_parameters(PRESET)


def test_the_paper_includes_every_figure_the_plan_produced(rendered):
    text, figures = rendered
    manifest = json.loads((paths.figures_dir(PRESET) / "manifest.json").read_text())["files"]
    produced = {name.rsplit(".", 1)[0] for name in manifest if name.endswith(".png")}
    assert produced - set(figures) == set()
    for name in manifest:  # the animation and the tables are linked
        if name.endswith((".gif", ".md")):
            assert name in text, name


def test_the_committed_paper_is_what_the_committed_numbers_render_to(rendered):
    """Verdicts and numbers in paper/paper-tiny.md are those of figures/tiny/numbers.json."""
    text, _ = rendered
    assert (paper.paper_dir() / f"paper-{PRESET}.md").read_text() == text, "run `make paper` and commit"
    numbers = json.loads(paper.numbers_file(PRESET).read_text())
    for claim, verdict in numbers["verdicts"].items():
        assert f"**Claim {claim[1:]}" in text and verdict in text


def test_the_paper_says_whether_each_method_gains_in_domain_in_every_draw(rendered):
    """The paragraph picks claim 2's in-domain check by its text: a renamed check must not drop it silently."""
    text, _ = rendered
    numbers = json.loads(paper.numbers_file(PRESET).read_text())
    draws = numbers["draws"]["draws"]
    assert len(draws) > 1
    paragraph = text.split("**Does each method gain in domain?**", 1)[1].split("\n\n", 1)[0]
    for draw, after in zip(draws, draws[1:] + [None]):
        part = paragraph.split(f"{draw}: ", 1)[1]
        part = part.split(f"; {after}: ", 1)[0] if after else part
        effects = json.loads((paths.figures_dir(draw) / "numbers.json").read_text())["effects"]
        for method, name in (("grpo", "GRPO"), ("sft1ep", "SFT-1ep"), ("sft3ep", "SFT-3ep")):
            assert f"{name} {effects[method]['in_domain']['delta']:+.3f} [" in part, (draw, method)


def test_missing_numbers_and_template_typos_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    with pytest.raises(paper.PaperError, match="run `scalpel reproduce --preset smoke`"):
        paper.render("smoke")
    (tmp_path / "figures" / "smoke").mkdir(parents=True)
    paper.numbers_file("smoke").write_text(json.dumps({"verdicts": {"c1": "reproduced"}}))
    (tmp_path / "paper.md.j2").write_text("Claim 1: {{ n.verdicts.c1 }}; {{ n.verdicts.c9 }}")
    with pytest.raises(paper.PaperError, match="lacks a number the paper needs .*c9"):
        paper.render("smoke", template_dir=tmp_path)
    (tmp_path / "paper.md.j2").write_text("{{ figure('kl_divergence', 'KL') }}")
    with pytest.raises(paper.PaperError, match="no step of plan.yaml produced it"):
        paper.render("smoke", template_dir=tmp_path)


def test_build_writes_markdown_and_html(tmp_path, monkeypatch):
    import shutil

    from scalpel_core import cli

    shutil.copy(paper.paper_dir() / paper.TEMPLATE, tmp_path / paper.TEMPLATE)
    monkeypatch.setattr(paper, "paper_dir", lambda: tmp_path)
    assert cli.main(["paper", "--preset", PRESET]) == 0
    html = (tmp_path / f"paper-{PRESET}.html").read_text()
    assert "<h1>Scalpel vs. Hammer, reproduced in a miniature world</h1>" in html
    assert '<img src="../figures/tiny/kl_divergence.png"' in html and "<table>" in html
    assert (tmp_path / f"paper-{PRESET}.md").read_text() == paper.render(PRESET)[0]
