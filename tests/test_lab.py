"""JupyterLab as users meet it: a real server (`jupyter lab`, headless, a free localhost port, a token)
on notebooks/ of a temporary copy of the repository, as `make lab` starts it. It answers /lab, lists
the project's kernel, opens every numbered notebook, and runs notebooks 00 and 01 on `smoke` through
kernels it started itself for the notebooks' paths (so they work in the notebooks' folder, as in
Lab), with the parameters the papermill plan gives them. Everything it started is stopped by id.

`make lab-check` (tests/lab_check.py) starts the same server and looks at a notebook in Chromium.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labserver import KERNEL, LabServer, _alive
from scalpel_core import paths
from scalpel_core.pipeline import plan

pytestmark = pytest.mark.slow  # a server, two kernels, a base pretrained and a GRPO run on smoke

# The plan's steps whose notebooks run here, and the figures each writes (as the plan's runner would)
STEPS = {"base": ["base_scores", "base_pretraining_loss"], "train-grpo": ["training_grpo-s0"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = LabServer.in_copy_of_repository(tmp_path_factory.mktemp("lab")).start()
    yield server
    started = set(server.pids)
    server.stop()
    assert server.proc is None and not [p for p in started if _alive(p)], "a process the server started is left"


def test_lab_answers_and_lists_the_project_kernel(lab):
    page = lab.get("/lab")
    assert "<title>JupyterLab</title>" in page and "jupyter-config-data" in page
    specs = lab.get("/api/kernelspecs")["kernelspecs"]
    assert KERNEL in specs, f"the project's kernel is not registered (make install does it): {sorted(specs)}"
    assert specs[KERNEL]["spec"]["display_name"] == "Python (scalpel-vs-hammer)"


@pytest.mark.parametrize("name", [p.name for p in sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))])
def test_every_numbered_notebook_opens(lab, name):
    model = lab.get(f"/api/contents/{name}?type=notebook&content=1")
    assert model["type"] == "notebook" and model["format"] == "json"
    nb = model["content"]
    assert nb["metadata"]["kernelspec"]["name"] == KERNEL
    on_disk = json.loads((paths.notebooks_dir() / name).read_text())
    assert [c["source"] for c in nb["cells"]] == ["".join(c["source"]) for c in on_disk["cells"]], name
    assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


@pytest.mark.parametrize("step", list(STEPS))  # in this order: notebook 01 trains from 00's base
def test_notebook_runs_on_smoke_in_a_kernel_the_server_started(lab, step):
    spec = next(s for s in plan.load() if s.name == step)
    t0 = time.time()
    nb, cwd = lab.execute(spec.notebook.name, spec.all_parameters("smoke"))
    assert cwd == str(lab.root), "the kernel did not start in the notebook's folder, as Lab starts it"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'preset = "smoke"' in injected[0].source
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code"), "a cell did not run"
    figures = Path(lab.env["SCALPEL_FIGURES"]) / "smoke"  # where the papermill plan puts them (paths.figures_dir)
    for name in STEPS[step]:
        for ext in ("png", "pdf"):
            assert (figures / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext} missing from {figures}"
    print(f"{spec.notebook.name} on smoke through the Lab server: {time.time() - t0:.0f} s")
