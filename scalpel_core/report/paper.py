"""Build the reproduction paper (``paper/paper.md.j2``) from a preset's generated numbers.

    scalpel paper --preset tiny        # = make paper: writes paper/paper-tiny.md and paper/paper-tiny.html

Every number in the text comes from ``figures/{preset}/numbers.json`` (written by notebook 08 in the
papermill plan) through Jinja2 with undefined names refused, so a typo fails the build instead of
printing nothing. Figures are referenced with ``{{ figure("name", "caption") }}``, which records the
name: :func:`render` returns them so a test can check each exists and is produced by the plan.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import paths
from . import history, mathml
from ..config import ScalpelError

TEMPLATE = "paper.md.j2"


class PaperError(ScalpelError, FileNotFoundError):
    """The numbers or a figure the paper needs are missing."""


def paper_dir() -> Path:
    return paths.REPO_ROOT / "paper"


def _filters(numbers: dict) -> dict:
    labels = numbers.get("labels", {})
    return {
        "benchmarks": lambda keys: ", ".join(labels.get(k, k) for k in keys) or "nothing",
        "f2": lambda v: f"{v:.2f}", "f3": lambda v: f"{v:.3f}", "f4": lambda v: f"{v:.4f}",
        "signed": lambda v: f"{v:+.3f}", "x": lambda v: f"{v:.1f}×" if v < 100 else f"{v:.0f}×",
        "sci": lambda v: f"{v:.2e}", "pct": lambda v: f"{100 * v:.0f}%", "g3": lambda v: f"{v:.3g}",
        "yesno": lambda v: "yes" if v else "no",
    }


def numbers_file(preset: str) -> Path:
    return paths.figures_dir(preset) / "numbers.json"


def render(preset: str, template_dir: Path | None = None) -> tuple[str, list[str]]:
    """The paper as Markdown, and the names of the figures it references (in order)."""
    import jinja2

    source = numbers_file(preset)
    if not source.is_file():
        raise PaperError(f"{source} not found: run `scalpel reproduce --preset {preset}` (its last step, "
                         f"notebooks/08_claims.ipynb, writes it) before building the paper")
    try:
        numbers = json.loads(source.read_text())
    except (ValueError, OSError) as err:
        raise PaperError(f"{source} is corrupt ({type(err).__name__}: {err}); remove it and run "
                         f"`scalpel reproduce --preset {preset}`, whose last step writes it again") from err
    if not isinstance(numbers, dict):
        raise PaperError(f"{source} holds no mapping of numbers; remove it and run "
                         f"`scalpel reproduce --preset {preset}`, whose last step writes it again")
    figures: list[str] = []
    rel = Path("..") / paths.figures_dir(preset).relative_to(paths.REPO_ROOT) \
        if paths.figures_dir(preset).is_relative_to(paths.REPO_ROOT) else paths.figures_dir(preset)

    def figure(name: str, caption: str) -> str:
        figures.append(name)
        return (f"![{caption}]({(rel / name).as_posix()}.png)\n\n"
                f"*Figure: {caption}* ([PDF]({(rel / name).as_posix()}.pdf); made by "
                f"{manifest_notebook(preset, name)})")

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir or paper_dir())),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(_filters(numbers))
    try:
        before = history.previous_numbers(preset)
        changes = history.verdict_changes(before, numbers) if before else []
        draws = (numbers.get("draws") or {}).get("draws") or [preset]
        text = env.get_template(TEMPLATE).render(n=numbers, preset=preset, figure=figure, changes=changes,
                                                 previous=history.PREVIOUS, moves=history.base_moves(draws))
    except jinja2.UndefinedError as err:  # numbers.json of another notebook 08, cut short, or a typo
        raise PaperError(f"{source} lacks a number the paper needs ({err}); remove it and run "
                         f"`scalpel reproduce --preset {preset}`, whose last step writes it again (or, if "
                         f"the name is a typo, correct it in the template {TEMPLATE})") from err
    return text, figures


def manifest_notebook(preset: str, name: str) -> str:
    """``notebooks/NN_x.ipynb`` that wrote figure ``name`` (from the plan's manifest), or a PaperError."""
    manifest = paths.figures_dir(preset) / "manifest.json"
    try:
        files = json.loads(manifest.read_text())["files"] if manifest.is_file() else {}
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise PaperError(f"{manifest} is corrupt ({type(err).__name__}: {err}); write it again with "
                         f"`scalpel reproduce --preset {preset} --force`") from err
    entry = files.get(f"{name}.png")
    if entry is None or f"{name}.pdf" not in files:
        raise PaperError(f"figure {name!r} is not in {manifest} as PNG and PDF: no step of plan.yaml "
                         f"produced it; run `scalpel reproduce --preset {preset}`")
    return f"`{entry['notebook']}`"


def build(preset: str) -> list[Path]:
    """Write ``paper/paper-{preset}.md`` and ``.html``; returns their paths."""
    import mistune

    for ext in ("md", "html"):  # before any work
        paths.check_writable(paper_dir() / f"paper-{preset}.{ext}", "the paper")
    text, figures = render(preset)
    for name in figures:
        for ext in ("png", "pdf"):
            if not (paths.figures_dir(preset) / f"{name}.{ext}").is_file():
                raise PaperError(f"figure {name}.{ext} is missing from {paths.figures_dir(preset)}")
    out = paper_dir()
    md, html = out / f"paper-{preset}.md", out / f"paper-{preset}.html"
    md.write_text(text)
    body = mistune.html(mathml.typeset(text))  # formulas as MathML: the page reads offline
    html.write_text("<!doctype html>\n<html><head><meta charset='utf-8'>\n"
                    f"<title>Scalpel vs. Hammer, reproduced ({preset})</title>\n"
                    "<style>body{max-width:52em;margin:2em auto;font-family:sans-serif;line-height:1.5}"
                    "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                    "padding:2px 6px}</style>\n</head><body>\n" + body + "</body></html>\n")
    return [md, html]
