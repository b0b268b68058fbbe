"""Execute every numbered notebook of ``notebooks/`` with papermill, for one preset.

    scalpel reproduce --preset tiny     # what `make reproduce` runs

Executed copies go to ``papermill_runs/{preset}/`` (one per parameter set of ``VARIANTS``); the notebooks write their figures to
``figures/{preset}/``. Stops at the first failing notebook and names it; the partly
executed copy is kept for inspection. For the miniature presets the base model is built
(or found in the cache) first, with a progress bar in the terminal, so the long
pretraining is visible; the notebooks then reuse it.
"""

from __future__ import annotations

import sys
import time

from . import paths

KERNEL = "scalpel-vs-hammer"  # registered inside the project's venv by `make`
# Notebooks executed more than once, one copy per parameter set: {stem}__{values}.ipynb.
VARIANTS = {"01_training": [{"method": m} for m in ("grpo", "sft1ep", "sft3ep")]}


def notebooks() -> list:
    return sorted(p for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def _first_line(source: str) -> str:
    lines = [ln for ln in source.splitlines() if ln.strip()]
    return lines[0] if lines else ""


def executions(preset: str) -> list[tuple]:
    """(notebook, parameters, output path) of every papermill run of ``preset``, in order."""
    out = []
    for nb in notebooks():
        for extra in VARIANTS.get(nb.stem, [{}]):
            name = nb.stem + ("__" + "-".join(str(v) for v in extra.values()) if extra else "") + ".ipynb"
            out.append((nb, {"preset": preset, "progress": False, **extra}, paths.papermill_dir(preset) / name))
    return out


def run_all(preset: str, kernel: str | None = None) -> int:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from . import config
    from .world.base import build_base

    cfg = config.load(preset)
    if cfg.world == "mini":
        print(f"[reproduce] base model of {preset!r} (cached after the first build)", flush=True)
        build_base(cfg, progress=True)
    out_dir = paths.papermill_dir(preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb, parameters, out in executions(preset):
        print(f"[reproduce] {nb.name} -> {out.relative_to(paths.REPO_ROOT)}", flush=True)
        t0 = time.time()
        try:
            # progress bars off inside the notebooks: papermill shows its own per-cell bar
            pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name=kernel or KERNEL,
                                cwd=str(paths.notebooks_dir()), progress_bar=True)
        except PapermillExecutionError as err:
            print(f"[reproduce] FAILED: {out.name}, cell In [{err.exec_count}] "
                  f"({_first_line(err.source)!r}): {err.ename}: {err.evalue}\n"
                  f"[reproduce] the partly executed notebook is kept at {out}", file=sys.stderr)
            return 1
        print(f"[reproduce] {out.name} done in {time.time() - t0:.0f} s", flush=True)
    return 0
