"""Execute the papermill plan (``plan.yaml``) of one preset.

    scalpel reproduce --preset tiny       # what `make reproduce` runs: every world draw (tiny-w1, tiny-w2, tiny)
    scalpel reproduce --preset tiny-w1    # one world draw's plan only
    scalpel reproduce --preset smoke      # the same plan in seconds (CI, nbval)
    scalpel reproduce --preset tiny --dry-run   # list the steps and which are up to date
    scalpel reproduce --preset tiny --force     # run every step again

Steps run in dependency order; a step whose notebook code, parameters, ``scalpel_core`` code and
inputs are unchanged since its last successful run is skipped. Executed copies go to
``papermill_runs/{preset}/``, figures to ``figures/{preset}/``, and ``figures/{preset}/manifest.json``
maps every file a step wrote there to its notebook, parameters and git commit. The first failing
step stops the run, naming its notebook and cell; the partly executed copy is kept. Beside
papermill's per-cell bar, long work inside a step (every model or checkpoint scored, every
checkpoint's KL, a long decode every 30 s) prints one line in the terminal
(:mod:`scalpel_core.heartbeat`, relayed by :func:`scalpel_core.pipeline.progress.relay`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .. import config, paths, worlds
from . import plan
from .progress import relay

KERNEL = "scalpel-vs-hammer"  # registered inside the project's venv by `make`
MANIFEST = "manifest.json"


def notebooks() -> list:
    return sorted(p for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def _snapshot(directory: Path) -> dict:
    if not directory.is_dir():
        return {}
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file() and p.name != MANIFEST}


def _written(before: dict, directory: Path) -> list:
    return sorted(name for name, mtime in _snapshot(directory).items() if before.get(name) != mtime)


def update_manifest(figures: Path, step: plan.Step, preset: str, files: list, executed: Path, commit: str) -> None:
    """Record ``files`` (under ``figures``) as written by ``step`` at git ``commit``; other steps' entries stay."""
    path = figures / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = {}
    entries = {k: v for k, v in manifest.get("files", {}).items() if v.get("step") != step.name}
    record = {"step": step.name, "notebook": f"notebooks/{step.notebook.name}",
              "executed": str(executed.relative_to(paths.REPO_ROOT)) if executed.is_relative_to(paths.REPO_ROOT)
              else str(executed),
              "parameters": step.all_parameters(preset), "commit": commit}
    entries |= {name: record for name in files}
    figures.mkdir(parents=True, exist_ok=True)
    paths.atomic_write(path, json.dumps({"preset": preset, "plan": "plan.yaml", "files": dict(sorted(entries.items()))},
                                        indent=1, ensure_ascii=False) + "\n")


def _first_line(source: str) -> str:
    lines = [ln for ln in source.splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _execute(step: plan.Step, preset: str, out: Path, kernel: str, label: str) -> str | None:
    """Run one step with papermill; None on success, else a message naming the notebook and cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        with relay(f"[reproduce]   {step.name}: "):  # the long cells' own progress lines, in the terminal
            pm.execute_notebook(str(step.notebook), str(out), parameters=step.all_parameters(preset),
                                kernel_name=kernel, cwd=str(step.notebook.parent),
                                progress_bar={"desc": label, "leave": False})
    except PapermillExecutionError as err:
        return (f"step {step.name!r} failed in {step.notebook.name}, cell In [{err.exec_count}] "
                f"({_first_line(err.source)!r}): {err.ename}: {err.evalue}")
    except Exception as err:  # kernel died, kernel not installed, unreadable notebook, ...
        return f"step {step.name!r} failed to execute {step.notebook.name}: {type(err).__name__}: {err}"
    return None


def _prepare(preset: str) -> None:
    """Build (or find) the miniature base first, with a progress bar in the terminal: inside
    notebook 00 the long pretraining would show only as one slow cell."""
    cfg = config.load(preset)
    if worlds.miniature(cfg):
        print(f"[reproduce] base model of {preset!r} (cached after the first build)", flush=True)
        worlds.prepare_base(cfg, progress=True)


def check_ready(preset: str, kernel: str) -> None:
    """Before any step runs: the Jupyter kernel exists and every folder the plan writes can be written."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if kernel not in specs:
        raise plan.PlanError(f"no Jupyter kernel named {kernel!r}; installed: {', '.join(sorted(specs)) or 'none'} "
                             f"(`make install` registers {KERNEL!r}; choose one with --kernel)")
    paths.check_writable(paths.papermill_dir(preset), "executed notebooks folder", folder=True)
    paths.check_writable(paths.figures_dir(preset), "figures folder (SCALPEL_FIGURES)", folder=True)
    paths.check_writable(plan.state_dir(preset), "artifacts folder (SCALPEL_ARTIFACTS)", folder=True)


def draw_order(preset: str, draw_only: bool = False) -> list:
    """The presets whose plans ``scalpel reproduce --preset`` runs: a preset runs every world draw of
    it (config n_worlds), the other draws first and draw 0 last, so that draw 0's ``combine_draws``
    step (the claims) reads every draw's results; a draw's own name (``tiny-w1``) runs that draw only,
    and so does draw 0 with ``draw_only`` (``--draw-only``: its claims combine the other draws'
    ``figures/<draw>/numbers.json`` as an earlier run, on this machine or committed, left them)."""
    if config.draw_of(preset) or draw_only:
        return [preset]
    names = worlds.draws(preset)
    return names[1:] + names[:1]


def run_all(preset: str, kernel: str | None = None, force: bool = False, dry_run: bool = False,
            plan_file: Path | None = None, notebooks_dir: Path | None = None, prepare: bool = True,
            draw_only: bool = False) -> int:
    """Execute the plan for ``preset`` and each of its world draws (:func:`draw_order`; ``draw_only``:
    its own draw alone); returns a process exit code (0 on success; the first failing draw stops the
    rest). ``prepare=False`` skips building the miniature base up front (the base step then builds it)."""
    order = draw_order(preset, draw_only)
    for name in order:
        if len(order) > 1:
            print(f"[reproduce] world draw {config.draw_of(name)} of {len(order)}: {name!r}", flush=True)
        code = run_draw(name, kernel, force, dry_run, plan_file, notebooks_dir, prepare)
        if code:
            return code
    return 0


def run_draw(preset: str, kernel: str | None = None, force: bool = False, dry_run: bool = False,
             plan_file: Path | None = None, notebooks_dir: Path | None = None, prepare: bool = True) -> int:
    """Execute the plan for one preset name (one world draw); returns a process exit code."""
    steps = plan.load(plan_file, notebooks_dir)
    digests = plan.digests(steps, preset)
    out_dir, figures = paths.papermill_dir(preset), paths.figures_dir(preset)
    todo = []  # a step runs when it is not up to date, or when a step it depends on runs (new inputs)
    for s in steps:
        if force or set(s.after) & {t.name for t in todo} or \
                not plan.up_to_date(s, preset, digests[s.name], out_dir, figures):
            todo.append(s)
    print(f"[reproduce] plan of {preset!r}: {len(steps)} steps, {len(steps) - len(todo)} up to date, "
          f"{len(todo)} to run", flush=True)
    if dry_run:
        for s in steps:
            print(f"  {'run ' if s in todo else 'skip'}  {s.name:<28} {s.notebook.name} -> {s.output}")
        return 0
    if todo:
        check_ready(preset, kernel or KERNEL)
    if todo and prepare:
        _prepare(preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    commit, t_start = paths.git_commit(), time.time()  # the code every step of this run executes
    for i, step in enumerate(steps, 1):
        out = out_dir / step.output
        label = f"[{i}/{len(steps)}] {step.name}"
        if step not in todo:
            print(f"[reproduce] {label}: up to date ({out.relative_to(paths.REPO_ROOT)})", flush=True)
            continue
        print(f"[reproduce] {label}: {step.notebook.name} -> {out.relative_to(paths.REPO_ROOT)}", flush=True)
        plan.clear_state(preset, step.name)  # until it succeeds, the step is not up to date
        before, t0 = _snapshot(figures), time.time()
        failure = _execute(step, preset, out, kernel or KERNEL, label)
        if failure:
            print(f"[reproduce] FAILED: {failure}\n[reproduce] the partly executed notebook is kept at {out}; "
                  "later steps were not run", file=sys.stderr, flush=True)
            return 1
        files = _written(before, figures)
        update_manifest(figures, step, preset, files, out, commit)
        plan.write_state(preset, step.name, {"digest": digests[step.name], "files": files,
                                             "seconds": round(time.time() - t0, 1)})
        print(f"[reproduce] {label} done in {time.time() - t0:.0f} s"
              + (f", wrote {len(files)} files to {figures.name}/" if files else ""), flush=True)
    print(f"[reproduce] {preset}: all {len(steps)} steps up to date ({time.time() - t_start:.0f} s)", flush=True)
    return 0
