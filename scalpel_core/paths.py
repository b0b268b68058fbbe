"""Where things live, relative to the repository (never to the current working directory), and
writing them safely.

``SCALPEL_HOME`` overrides the repository root (for a non-editable install);
``SCALPEL_ARTIFACTS`` relocates the (git-ignored) artifacts folder, and
``SCALPEL_FIGURES`` the figures folder (the tests use both to keep the repo clean).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(os.environ.get("SCALPEL_HOME", Path(__file__).resolve().parents[1])).resolve()
# What "the code" is for provenance: a change under these makes git_commit() say +dirty.
CODE = ("scalpel_core", "notebooks", "plan.yaml")

# The result tables the notebooks write under artifacts/{preset}/tables/: name -> (file, notebook).
TABLES = {
    "base_scores": ("base_scores.csv", "00_base_model"),
    "weights": ("weight_changes.csv", "03_weight_changes"),
    "kl": ("kl.csv", "04_kl_divergence"),
    "scores": ("benchmark_scores.csv", "05_benchmarks"),
    "deltas": ("benchmark_deltas.csv", "05_benchmarks"),
    "graders": ("grader_disagreement.csv", "05_benchmarks"),
    "effects": ("effect_sizes.csv", "05_benchmarks"),
    "freeze_scores": ("freeze_scores.csv", "02_freeze_ablation"),
    "freeze_effects": ("freeze_effects.csv", "02_freeze_ablation"),
    "freeze_frozen": ("freeze_frozen_check.csv", "02_freeze_ablation"),
    "sparsity": ("update_sparsity.csv", "06_inside_the_model"),
    "spectra": ("update_spectra.csv", "06_inside_the_model"),
    "attention": ("attention_shift.csv", "06_inside_the_model"),
    "passk": ("passk.csv", "07_amplify_or_replace"),
    "passk_crossing": ("passk_crossing.csv", "07_amplify_or_replace"),
    "gained_lost": ("gained_lost.csv", "07_amplify_or_replace"),
    "forgetting": ("forgetting.csv", "07_amplify_or_replace"),
    "forgetting_fits": ("forgetting_fits.csv", "07_amplify_or_replace"),
    "frontier": ("frontier.csv", "07_amplify_or_replace"),
    "matched": ("matched_size.csv", "07_amplify_or_replace"),
}


def artifacts_dir() -> Path:
    """Root of everything expensive: base models, checkpoints, cached tables."""
    return Path(os.environ.get("SCALPEL_ARTIFACTS", REPO_ROOT / "artifacts")).resolve()


def figures_dir(preset: str) -> Path:
    return Path(os.environ.get("SCALPEL_FIGURES", REPO_ROOT / "figures")).resolve() / preset


def papermill_dir(preset: str) -> Path:
    return REPO_ROOT / "papermill_runs" / preset


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def base_dir(preset: str, config_hash: str) -> Path:
    """Where the miniature base model of a preset is cached, keyed by its config hash."""
    return artifacts_dir() / preset / "base" / config_hash


def tables_dir(preset: str) -> Path:
    """``artifacts/{preset}/tables/`` (created): the result tables of the notebooks."""
    path = artifacts_dir() / preset / "tables"
    path.mkdir(parents=True, exist_ok=True)
    return path


def table_file(preset: str, name: str) -> Path:
    """The file of result table ``name`` (a key of :data:`TABLES`) of ``preset``."""
    if name not in TABLES:
        raise KeyError(f"unknown result table {name!r}; tables: {', '.join(TABLES)}")
    return tables_dir(preset) / TABLES[name][0]


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader (or a crash)
    never sees half a file, and two processes never share a temporary file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def git_commit() -> str:
    """HEAD of the repository, with ``+dirty`` when the code (:data:`CODE`) differs from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=30)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode:
            return "unknown (not a git checkout)"
        dirty = git("status", "--porcelain", "--", *CODE).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return head.stdout.strip() + ("+dirty" if dirty else "")


def check_writable(path: Path, what: str, folder: bool = False) -> Path:
    """``path`` if it can be written (as a file, or as a folder with ``folder=True``), creating
    nothing; else a :class:`~scalpel_core.config.PathError` naming ``what``, the path and why.

    Called before any slow work, so a run never ends in a failed write: the nearest existing
    ancestor must be a writable folder, and ``path`` itself, if it exists, of the right kind.
    """
    from .config import PathError  # config imports cache, which imports this module

    path = Path(path).expanduser()
    if path.exists():
        if folder and not path.is_dir():
            raise PathError(f"{what} {path} cannot be written: it is a file, not a folder")
        if not folder and path.is_dir():
            raise PathError(f"{what} {path} cannot be written: it is a folder; name a file")
        if not os.access(path, os.W_OK):
            raise PathError(f"{what} {path} cannot be written: permission denied; choose a writable path")
        return path
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise PathError(f"{what} {path} cannot be written: {parent} is a file, not a folder; "
                        "choose a path under a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PathError(f"{what} {path} cannot be written: {parent} is not writable; choose a writable path")
    return path
