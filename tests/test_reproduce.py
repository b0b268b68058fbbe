"""The papermill plan (plan.yaml) and its runner behind `make reproduce`."""

import json

import nbformat
import pytest

from scalpel_core import cli, paths, worlds
from scalpel_core.pipeline import plan, reproduce


def _notebook(path, params, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (params, *sources)]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, path)


# A cell that writes one figure-like file and appends to a log of executions.
WRITE = """
import os
from scalpel_core import paths
out = paths.figures_dir(preset)
out.mkdir(parents=True, exist_ok=True)
(out / f"{name}.png").write_text(str(value))
with open(os.environ["RUN_LOG"], "a") as f:
    f.write(name + "\\n")
"""


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A repository of three small notebooks: a -> b, and c failing on demand."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", 'preset = "x"\nprogress = True\nname = "a"\nvalue = 1', WRITE)
    _notebook(nbs / "b.ipynb", 'preset = "x"\nprogress = True\nname = "b"\nvalue = 1', WRITE)
    _notebook(nbs / "c.ipynb", 'preset = "x"\nprogress = True\nfail = False', "x = 1",
              "if fail:\n    raise RuntimeError('boom')")
    monkeypatch.setattr(paths, "notebooks_dir", lambda: nbs)
    monkeypatch.setattr(paths, "papermill_dir", lambda preset: tmp_path / "runs" / preset)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RUN_LOG", str(tmp_path / "log.txt"))
    return tmp_path


def _plan(root, text):
    f = root / "plan.yaml"
    f.write_text(text)
    return f


PLAN = """
steps:
  second:
    notebook: b.ipynb
    parameters: {value: %s}
    output: b.ipynb
    after: [first]
  first:
    notebook: a.ipynb
    output: a__out.ipynb
"""


def _run(root, plan_file, **kw):
    """One draw's plan (smoke itself); test_every_world_draw_runs_then_draw_0_combines covers run_all's draws."""
    return reproduce.run_draw("smoke", kernel="python3", plan_file=plan_file, prepare=False, **kw)


def _log(root):
    f = root / "log.txt"
    return f.read_text().split() if f.exists() else []


@pytest.mark.slow
def test_runs_in_dependency_order_then_skips_what_is_up_to_date(sandbox, capsys):
    f = _plan(sandbox, PLAN % 1)
    assert _run(sandbox, f) == 0
    assert _log(sandbox) == ["a", "b"]  # `first` before `second`, although listed after it
    assert "value = 1" in (sandbox / "runs" / "smoke" / "b.ipynb").read_text()

    assert _run(sandbox, f) == 0  # nothing changed: nothing runs
    assert _log(sandbox) == ["a", "b"]
    assert "2 up to date, 0 to run" in capsys.readouterr().out

    _plan(sandbox, PLAN % 2)  # new parameters for `second` only
    assert _run(sandbox, f) == 0
    assert _log(sandbox) == ["a", "b", "b"]

    (sandbox / "figures" / "smoke" / "a.png").unlink()  # a lost output makes its step run again
    assert _run(sandbox, f) == 0
    assert _log(sandbox) == ["a", "b", "b", "a", "b"]  # ... and the steps after it (new inputs)

    assert _run(sandbox, f, force=True) == 0
    assert _log(sandbox)[-2:] == ["a", "b"]


@pytest.mark.slow
def test_a_change_of_notebook_code_reruns_it_and_its_dependents(sandbox):
    f = _plan(sandbox, PLAN % 1)
    assert _run(sandbox, f) == 0
    nb = nbformat.read(sandbox / "notebooks" / "a.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("a note changes nothing"))
    nbformat.write(nb, sandbox / "notebooks" / "a.ipynb")
    assert _run(sandbox, f) == 0
    assert _log(sandbox) == ["a", "b"]
    nb.cells.append(nbformat.v4.new_code_cell("y = 2"))
    nbformat.write(nb, sandbox / "notebooks" / "a.ipynb")
    assert _run(sandbox, f) == 0
    assert _log(sandbox) == ["a", "b", "a", "b"]


@pytest.mark.slow
def test_manifest_maps_each_figure_to_notebook_parameters_and_commit(sandbox):
    assert _run(sandbox, _plan(sandbox, PLAN % 3)) == 0
    manifest = json.loads((sandbox / "figures" / "smoke" / "manifest.json").read_text())
    assert manifest["preset"] == "smoke"
    assert set(manifest["files"]) == {"a.png", "b.png"}
    b = manifest["files"]["b.png"]
    assert b["step"] == "second" and b["notebook"] == "notebooks/b.ipynb"
    assert b["executed"] == "runs/smoke/b.ipynb"
    assert b["parameters"] == {"preset": "smoke", "progress": False, "value": 3}
    assert b["commit"] == "unknown (not a git checkout)"  # the sandbox is not a git checkout


@pytest.mark.slow
def test_stops_at_the_first_failure_naming_notebook_and_cell(sandbox, capsys):
    f = _plan(sandbox, """
steps:
  first: {notebook: a.ipynb, output: a.ipynb}
  broken: {notebook: c.ipynb, parameters: {fail: true}, output: c.ipynb, after: [first]}
  never: {notebook: b.ipynb, output: b.ipynb, after: [broken]}
""")
    assert _run(sandbox, f) == 1
    err = capsys.readouterr().err
    # the count is the one shown in the kept notebook (papermill injects a parameters cell)
    assert "step 'broken' failed in c.ipynb, cell In [4] ('if fail:'): RuntimeError: boom" in err
    kept = sandbox / "runs" / "smoke" / "c.ipynb"
    assert "x = 1" in kept.read_text() and "boom" in kept.read_text()  # the partly executed notebook
    assert not (sandbox / "runs" / "smoke" / "b.ipynb").exists()
    assert _log(sandbox) == ["a"]
    assert plan.read_state("smoke", "broken") is None  # a failed step is never up to date
    assert _run(sandbox, f) == 1 and _log(sandbox) == ["a"]  # `first` is skipped, `broken` retried


@pytest.mark.slow
def test_a_step_that_failed_is_never_up_to_date(sandbox, monkeypatch):
    """Same digest, but its last execution failed (here: for a reason outside the plan)."""
    nb = sandbox / "notebooks" / "d.ipynb"
    _notebook(nb, 'preset = "x"\nprogress = True\nname = "d"\nvalue = 1',
              "import os\nassert not os.environ.get('FAIL_D'), 'asked to fail'", WRITE)
    f = _plan(sandbox, "steps:\n  d: {notebook: d.ipynb, output: d.ipynb}")
    assert _run(sandbox, f) == 0 and _log(sandbox) == ["d"]
    monkeypatch.setenv("FAIL_D", "1")
    assert _run(sandbox, f, force=True) == 1
    monkeypatch.delenv("FAIL_D")
    assert _run(sandbox, f) == 0 and _log(sandbox) == ["d", "d"]


@pytest.mark.parametrize("text, message", [
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb, params: {}}", "unknown key(s) ['params']"),
    ("steps:\n  s: {notebook: zz.ipynb, output: o.ipynb}", "notebook 'zz.ipynb' not found"),
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb, parameters: {valu: 2}}",
     "a.ipynb has no parameter 'valu'; its parameters: name, preset, progress, value"),
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb, parameters: {preset: tiny}}", "which the runner sets itself"),
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb, after: [t]}", "runs after 't', which is not a step"),
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb, after: [t]}\n  t: {notebook: b.ipynb, output: p.ipynb, after: [s]}",
     "plan steps s, t depend on each other in a cycle"),
    ("steps:\n  s: {notebook: a.ipynb, output: o.ipynb}\n  t: {notebook: b.ipynb, output: o.ipynb}",
     "several steps write o.ipynb"),
    ("steps:\n  s: {notebook: a.ipynb}", "needs 'output'"),
    ("steps: [a, b]", "needs a non-empty mapping"),
])
def test_bad_plans_are_refused_before_anything_runs(sandbox, text, message):
    with pytest.raises(plan.PlanError, match=None) as err:
        _run(sandbox, _plan(sandbox, text))
    assert message in str(err.value)
    assert _log(sandbox) == []


COMBINING = """
steps:
  first:
    notebook: a.ipynb
    output: a__out.ipynb
  second:
    notebook: b.ipynb
    parameters: {value: 1}
    output: b.ipynb
    after: [first]
    combine_draws: true
"""


@pytest.mark.slow
def test_every_world_draw_runs_then_draw_0_combines(sandbox, capsys, monkeypatch):
    """`reproduce --preset smoke` runs the plan for smoke-w1, then smoke (n_worlds 2), each into its
    own folders; draw 0's combine_draws step is out of date when another draw's step changes, and a
    draw's own name runs that draw only."""
    from scalpel_core import config

    assert reproduce.draw_order("smoke") == ["smoke-w1", "smoke"] and reproduce.draw_order("smoke-w1") == ["smoke-w1"]
    assert reproduce.draw_order("paper") == ["paper"]
    f = _plan(sandbox, COMBINING)
    assert reproduce.run_all("smoke", kernel="python3", plan_file=f, prepare=False) == 0
    out = capsys.readouterr().out
    assert out.index("plan of 'smoke-w1'") < out.index("plan of 'smoke':")
    for draw in ("smoke", "smoke-w1"):
        assert (sandbox / "runs" / draw / "b.ipynb").is_file() and (sandbox / "figures" / draw / "manifest.json").is_file()
    assert _log(sandbox).count("a") == 2
    assert reproduce.draw_order("smoke", draw_only=True) == ["smoke"]
    assert reproduce.run_all("smoke", kernel="python3", plan_file=f, prepare=False, force=True, draw_only=True) == 0
    out = capsys.readouterr().out  # --draw-only: draw 0 alone, its claims reading smoke-w1's numbers as left
    assert "plan of 'smoke-w1'" not in out and "plan of 'smoke':" in out and _log(sandbox).count("a") == 3
    assert cli.main(["reproduce", "--preset", "smoke", "--plan", str(f), "--dry-run", "--draw-only"]) == 0
    assert "plan of 'smoke-w1'" not in capsys.readouterr().out
    steps = plan.load(f)
    own, w1 = plan.digests(steps, "smoke"), plan.digests(steps, "smoke-w1")
    assert own["first"] != w1["first"]  # the preset name (its world) is a parameter of every step
    original = plan.digests  # another draw's claims step changes: draw 0's combining step is out of date
    monkeypatch.setattr(plan, "digests", lambda st, preset, package=None:
                        {**w1, "second": "changed"} if preset == "smoke-w1" else original(st, preset, package))
    changed = plan.digests(steps, "smoke")
    assert changed["second"] != own["second"] and changed["first"] == own["first"]
    assert worlds.draws("smoke") == ["smoke", "smoke-w1"]


def test_cli_dry_run_lists_steps(sandbox, capsys):
    assert cli.main(["reproduce", "--preset", "smoke", "--plan", str(_plan(sandbox, PLAN % 1)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 steps, 0 up to date, 2 to run" in out and "run   first" in out
    assert _log(sandbox) == []
    assert cli.main(["reproduce", "--preset", "smoke", "--plan", str(sandbox / "nope.yaml")]) == 2
    assert "plan file" in capsys.readouterr().err


def test_the_project_plan():
    """plan.yaml: every numbered notebook runs, training once per method and per freeze spec the
    paper published (the two others are left out for the time budget), and every step after the
    steps whose results it reads."""
    steps = plan.load()
    order = [s.name for s in steps]
    assert {s.notebook.name for s in steps} == {p.name for p in reproduce.notebooks()}
    trains = [(s.parameters["method"], s.parameters.get("trainable", "all")) for s in steps
              if s.notebook.name == "01_training.ipynb"]
    assert sorted(trains) == sorted([("grpo", "all"), ("sft1ep", "all"), ("sft3ep", "all"),
                                     ("sft3ep", "qk+lm_head"), ("sft3ep", "frozen-mid-mlp")])
    for s in steps:
        assert all(order.index(d) < order.index(s.name) for d in s.after)
    by_name = {s.name: s for s in steps}
    from scalpel_core import config
    from scalpel_core.train.runs import main_run_ids, run_id
    trained = {}
    for s in steps:
        if s.notebook.name == "01_training.ipynb":
            cfg = config.load("tiny", method=s.parameters["method"], trainable=s.parameters.get("trainable", "all"))
            seeds = range(cfg.n_seeds) if s.parameters.get("all_seeds") else [0]
            trained |= {run_id(config.load("tiny", method=cfg.method, trainable=cfg.trainable, train_seed=k)): s.name
                        for k in seeds}
    assert set(main_run_ids(config.load("tiny"))) <= set(trained)  # every seed of the three runs is trained
    for s in steps:  # a step that reads runs comes after the steps that train them
        reads = s.notebook.name in ("03_weight_changes.ipynb", "04_kl_divergence.ipynb", "05_benchmarks.ipynb")
        names = s.parameters.get("ablations", []) + ([s.parameters["full"]] if "full" in s.parameters else [])
        from scalpel_core.train.runs import seed_of
        per_seed = [n if seed_of(n) is not None else f"{n}-s{k}" for n in names  # notebook 02: a name is every seed
                    for k in ([None] if seed_of(n) is not None else range(config.load("tiny").n_seeds))]
        wanted = (s.parameters.get("run_ids") or (main_run_ids(config.load("tiny")) if reads else [])) + per_seed
        for run in wanted:
            assert trained[run] in by_name[s.name].after, (s.name, run)
    assert order[-1] == "claims"


@pytest.mark.parametrize("preset", ["smoke", "smoke-w1", "tiny"])
def test_committed_runs_are_the_plans_outputs(preset):
    """papermill_runs/{smoke,smoke-w1,tiny}/ hold one executed notebook per plan step, run with its parameters."""
    steps = plan.load()
    folder = paths.papermill_dir(preset)
    assert {p.name for p in folder.glob("*.ipynb")} == {s.output for s in steps}
    for step in steps:
        nb = json.loads((folder / step.output).read_text())
        assert nb["metadata"]["papermill"]["parameters"] == step.all_parameters(preset), step.name
        assert nb["metadata"]["papermill"]["exception"] is not True, f"{step.output} failed"
