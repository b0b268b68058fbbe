"""The package's rooms and what they may import; one switch between the worlds; the original
paper's facts inside the repository; notebooks that lead to their executed results."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from scalpel_core import paths
from scalpel_core.report import published

PACKAGE = paths.REPO_ROOT / "scalpel_core"

# Rooms, from the bottom up: a module may import its own room or a room of a lower level, never a
# higher level, nor another room of its own level (eval and lenses, report and pipeline are peers).
LEVELS = [
    {"ground"},
    {"data"},
    {"world"},
    {"eval", "lenses"},
    {"switch"},
    {"train"},
    {"report", "pipeline"},
    {"cli"},
]
LEVEL = {room: i for i, rooms in enumerate(LEVELS) for room in rooms}
GROUND = {"config", "paths", "arch", "checkpoints", "cache", "batching", "heartbeat"}
FOLDERS = {"data", "world", "eval", "lenses", "train", "report", "pipeline"}


def room_of(module: str) -> str:
    """The room of ``scalpel_core.x.y``; a KeyError for a module that has no room."""
    parts = module.split(".")[1:]
    if not parts:
        return "ground"  # the package's own __init__
    if parts[0] in FOLDERS:
        return parts[0]
    if parts[0] in GROUND:
        return "ground"
    return {"worlds": "switch", "cli": "cli"}[parts[0]]


def _module_name(file: Path, package: Path) -> str:
    rel = file.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(file: Path, package: Path) -> list[str]:
    """Every ``scalpel_core`` module ``file`` imports, at the top or inside a function."""
    name = _module_name(file, package)
    is_pkg = file.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "scalpel_core"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "scalpel_core":
                continue
            # `from . import x` imports the submodule x when x is one
            for a in node.names:
                sub = f"{target}.{a.name}"
                as_path = package.parent / Path(*sub.split("."))
                out.append(sub if as_path.with_suffix(".py").is_file() or as_path.is_dir() else target)
    return out


def violations(package: Path = PACKAGE) -> list[str]:
    """``'a imports b (room x over room y)'`` for every import against the rooms' order."""
    bad = []
    for file in sorted(package.rglob("*.py")):
        source = _module_name(file, package)
        src_room = room_of(source)
        for target in imports_of(file, package):
            dst_room = room_of(target)
            if dst_room != src_room and LEVEL[dst_room] >= LEVEL[src_room]:
                bad.append(f"{source} imports {target} (room {src_room!r} may not import room {dst_room!r})")
    return bad


def test_every_module_has_a_room():
    for file in PACKAGE.rglob("*.py"):
        name = _module_name(file, PACKAGE)
        try:
            assert room_of(name) in LEVEL
        except KeyError:
            pytest.fail(f"{name} is in no room: put it in a role's folder or name its room in tests/test_layout.py")


def test_imports_run_downward_only():
    assert violations() == []


@pytest.mark.parametrize("where,line,expected", [
    ("lenses/weights.py", "from ..report import plots", "scalpel_core.lenses.weights imports scalpel_core.report.plots"),
    ("config.py", "    from .train import runs", "scalpel_core.config imports scalpel_core.train.runs"),
    ("eval/scoring.py", "from ..lenses import kl", "scalpel_core.eval.scoring imports scalpel_core.lenses.kl"),
    ("data/hub.py", "import scalpel_core.world.build", "scalpel_core.data.hub imports scalpel_core.world.build"),
])
def test_an_upward_import_is_named(tmp_path, where, line, expected):
    """The check fails, naming the pair, when a lower module imports a higher one (or a peer)."""
    copy = tmp_path / "scalpel_core"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    file = copy / where
    file.write_text(file.read_text() + f"\n\ndef _late():\n    {line.strip()}\n")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_one_module_decides_the_world():
    """``cfg.world`` is compared in scalpel_core/worlds.py only, in the package and the notebooks."""
    hits = set()
    for file in [*PACKAGE.rglob("*.py"), *paths.notebooks_dir().glob("*.ipynb")]:
        if re.search(r"world\s*==", file.read_text()):
            hits.add(file.relative_to(paths.REPO_ROOT).as_posix())
    assert hits == {"scalpel_core/worlds.py"}


def _text_files():
    skip = {".git", ".venv", "artifacts", "__pycache__", ".pytest_cache"}
    for file in paths.REPO_ROOT.rglob("*"):
        if file.is_file() and not skip & set(file.relative_to(paths.REPO_ROOT).parts) \
                and file.suffix in {".py", ".md", ".ipynb", ".yaml", ".yml", ".j2", ".cfg", ".toml", ".txt", ""}:
            yield file


def test_no_file_cites_a_paper_file_outside_the_repository():
    name = "PAPER" + ".md"  # spelled apart, so this file does not cite it either
    citing = [f.relative_to(paths.REPO_ROOT).as_posix() for f in _text_files()
              if name in f.read_text(errors="ignore")]
    assert citing == [], f"cite paper/ORIGINAL.md instead in: {citing}"


ORIGINAL = paths.REPO_ROOT / "paper" / "ORIGINAL.md"


def _sections() -> dict[str, str]:
    text = ORIGINAL.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_published_number_names_its_section_in_the_reference_file():
    source = (PACKAGE / "report" / "published.py").read_text()
    sections = _sections()
    for constant in ("BENCHMARKS", "FREEZING", "SETUP", "KL", "SFT1EP_CHANGE"):
        found = re.search(rf'# \[ORIGINAL\.md, "([^"]+)"\][^\n]*(?:\n#[^\n]*)*\n{constant} = ', source)
        assert found, f"published.{constant} does not cite a section of paper/ORIGINAL.md above it"
        assert found.group(1) in sections, f"published.{constant} cites a missing section {found.group(1)!r}"
        assert f"`{constant}`" in sections[found.group(1)], f"that section does not name {constant}"


def _table(section: str) -> dict[str, list[float]]:
    rows = [r for r in _sections()[section].splitlines() if r.startswith("| ") and not r.startswith("| benchmark")]
    return {cells[0]: [float(c) for c in cells[1:]]
            for cells in ([c.strip() for c in r.strip("|").split("|")] for r in rows)}


def test_the_reference_tables_are_the_published_numbers():
    from scalpel_core.eval.scoring import LABELS

    for section, numbers in (("Published numbers: benchmarks", published.BENCHMARKS),
                             ("Published numbers: freeze ablation", published.FREEZING)):
        table = _table(section)
        assert table == {LABELS[k]: list(v) for k, v in numbers.items()}, section


def _plan_outputs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for step in yaml.safe_load((paths.REPO_ROOT / "plan.yaml").read_text())["steps"].values():
        out.setdefault(step["notebook"], []).append(step["output"])
    return out


@pytest.mark.parametrize("notebook", sorted(p.name for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb")))
def test_a_notebook_leads_to_its_executed_tiny_copies(notebook):
    """The first markdown cell links every executed tiny copy the plan makes of it, and each exists."""
    nb = json.loads((paths.notebooks_dir() / notebook).read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    links = re.findall(r"\]\(\.\./(papermill_runs/tiny/[^)]+)\)", "".join(first["source"]))
    wanted = [f"papermill_runs/tiny/{o}" for o in _plan_outputs()[notebook]]
    assert links == wanted
    for link in links:
        assert (paths.REPO_ROOT / link).is_file(), link
