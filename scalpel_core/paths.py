"""Repository-relative paths. Nothing here depends on the current working directory.

``SCALPEL_HOME`` overrides the repository root (for a non-editable install);
``SCALPEL_ARTIFACTS`` relocates the (git-ignored) artifacts folder, and
``SCALPEL_FIGURES`` the figures folder (the tests use both to keep the repo clean).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("SCALPEL_HOME", Path(__file__).resolve().parents[1])).resolve()


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
