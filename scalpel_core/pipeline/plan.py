"""The papermill plan (``plan.yaml``): which notebook runs with which parameters into which file,
in which order, and whether a step is up to date.

    from scalpel_core.pipeline import plan
    steps = plan.load()                      # validated, in dependency order
    plan.digests(steps, "tiny")              # step -> digest of its code, parameters and inputs

A step's digest covers the code cells of its notebook, its parameters (the preset included), the
source of ``scalpel_core`` and the digests of the steps it runs after. A step is up to date when
its last successful run recorded the same digest and its executed notebook and figures still exist.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import config, paths, worlds
from ..cache import json_hash
from ..config import ScalpelError

PLAN_FILE = paths.REPO_ROOT / "plan.yaml"
_KEYS = {"notebook", "parameters", "output", "after", "combine_draws"}
# Set by the runner for every step; a plan may not set them.
RUNNER_PARAMETERS = ("preset", "progress")


class PlanError(ScalpelError, ValueError):
    """A plan that names an unknown notebook, parameter or step, or whose steps form a cycle."""


@dataclass
class Step:
    name: str
    notebook: Path  # the source notebook
    output: str  # file name under papermill_runs/{preset}/
    parameters: dict = field(default_factory=dict)
    after: list = field(default_factory=list)
    combine_draws: bool = False  # in draw 0, it reads every world draw's results (its digest covers theirs)

    def all_parameters(self, preset: str) -> dict:
        return {"preset": preset, "progress": False, **self.parameters}


def _declared_parameters(notebook: Path) -> set:
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def _parse(name: str, spec, notebooks: Path) -> Step:
    where = f"plan step {name!r}"
    if not isinstance(spec, dict):
        raise PlanError(f"{where} must be a mapping with keys {sorted(_KEYS)}, got {spec!r}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise PlanError(f"{where} has unknown key(s) {sorted(unknown)}; valid keys: {sorted(_KEYS)}")
    for key in ("notebook", "output"):
        if not isinstance(spec.get(key), str):
            raise PlanError(f"{where} needs {key!r}: a file name such as '03_weight_changes.ipynb'")
    notebook = notebooks / spec["notebook"]
    if not notebook.is_file():
        choices = ", ".join(p.name for p in sorted(notebooks.glob("*.ipynb")))
        raise PlanError(f"{where}: notebook {spec['notebook']!r} not found in {notebooks}; notebooks: {choices}")
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PlanError(f"{where}: 'parameters' must be a mapping of notebook parameters, got {parameters!r}")
    declared = _declared_parameters(notebook)
    for key in parameters:
        if key in RUNNER_PARAMETERS:
            raise PlanError(f"{where} sets {key!r}, which the runner sets itself (scalpel reproduce --preset ...)")
        if key not in declared:
            raise PlanError(f"{where}: {spec['notebook']} has no parameter {key!r}; "
                            f"its parameters: {', '.join(sorted(declared))}")
    after = spec.get("after") or []
    if not isinstance(after, list):
        raise PlanError(f"{where}: 'after' must be a list of step names, got {after!r}")
    combine = spec.get("combine_draws", False)
    if not isinstance(combine, bool):
        raise PlanError(f"{where}: 'combine_draws' must be true or false, got {combine!r}")
    return Step(name, notebook, spec["output"], dict(parameters), list(after), combine)


def _ordered(steps: dict) -> list:
    """Steps in dependency order (file order among those that are ready), or a PlanError."""
    for step in steps.values():
        for dep in step.after:
            if dep not in steps:
                raise PlanError(f"plan step {step.name!r} runs after {dep!r}, which is not a step; "
                                f"steps: {', '.join(steps)}")
    done, order = set(), []
    while len(order) < len(steps):
        ready = [s for s in steps.values() if s.name not in done and set(s.after) <= done]
        if not ready:
            left = [s.name for s in steps.values() if s.name not in done]
            raise PlanError(f"plan steps {', '.join(left)} depend on each other in a cycle")
        order.append(ready[0])
        done.add(ready[0].name)
    return order


def load(plan_file: Path | None = None, notebooks: Path | None = None) -> list:
    """The validated steps of ``plan_file`` (default ``plan.yaml``), in dependency order."""
    plan_file = Path(plan_file or PLAN_FILE)
    notebooks = Path(notebooks or paths.notebooks_dir())
    try:
        data = yaml.safe_load(plan_file.read_text())
    except FileNotFoundError:
        raise PlanError(f"plan file {plan_file} not found") from None
    except yaml.YAMLError as err:
        raise PlanError(f"plan file {plan_file} is not valid YAML: {' '.join(str(err).split())}") from None
    except (OSError, UnicodeDecodeError) as err:  # a folder, unreadable, not text
        raise PlanError(f"plan file {plan_file} cannot be read as YAML text ({type(err).__name__}: {err}); "
                        "pass a plan file such as plan.yaml") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) or not data["steps"]:
        raise PlanError(f"plan file {plan_file} needs a non-empty mapping 'steps: {{name: {{notebook, output, ...}}}}'")
    steps = {name: _parse(name, spec, notebooks) for name, spec in data["steps"].items()}
    outputs = [s.output for s in steps.values()]
    twice = sorted({o for o in outputs if outputs.count(o) > 1})
    if twice:
        raise PlanError(f"plan file {plan_file}: several steps write {', '.join(twice)}; each output must be unique")
    return _ordered(steps)


def code_digest(package: Path | None = None) -> str:
    """SHA-256 over the source files of ``scalpel_core`` (names and contents)."""
    package = Path(package or Path(__file__).resolve().parents[1])
    h = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        h.update(str(f.relative_to(package)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def notebook_digest(notebook: Path) -> str:
    """SHA-256 of a notebook's code cells (its outputs and markdown do not change what it computes)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return json_hash([c.source for c in nb.cells if c.cell_type == "code"])


def digests(steps: list, preset: str, package: Path | None = None) -> dict:
    """step name -> digest of its notebook code, parameters, the package code and its dependencies.
    In draw 0 of a preset with several world draws, a ``combine_draws`` step's digest also covers
    the same step's digest in every other draw (it reads their results)."""
    code = code_digest(package)
    others = worlds.draws(preset)[1:] if config.draw_of(preset) == 0 else []
    theirs = {d: digests(steps, d, package) for d in others} if any(s.combine_draws for s in steps) else {}
    out = {}
    for step in steps:  # dependency order: every dependency is already in `out`
        record = {"notebook": notebook_digest(step.notebook), "parameters": step.all_parameters(preset),
                  "code": code, "after": {d: out[d] for d in step.after}}
        if step.combine_draws and theirs:
            record["draws"] = {d: theirs[d][step.name] for d in others}
        out[step.name] = json_hash(record)
    return out


def state_dir(preset: str) -> Path:
    return paths.artifacts_dir() / preset / "plan"


def read_state(preset: str, step: str) -> dict | None:
    try:
        return json.loads((state_dir(preset) / f"{step}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_state(preset: str, step: str, state: dict) -> None:
    directory = state_dir(preset)
    directory.mkdir(parents=True, exist_ok=True)
    paths.atomic_write(directory / f"{step}.json", json.dumps(state, indent=1))


def clear_state(preset: str, step: str) -> None:
    (state_dir(preset) / f"{step}.json").unlink(missing_ok=True)


def up_to_date(step: Step, preset: str, digest: str, out_dir: Path, figures: Path) -> bool:
    """Same digest as the last successful run, and its executed notebook and figures still exist."""
    state = read_state(preset, step.name)
    if not state or state.get("digest") != digest or not (out_dir / step.output).is_file():
        return False
    return all((figures / f).is_file() for f in state.get("files", []))
