"""`scalpel report`: every lens on a run folder or on checkpoint folders against a base, as one executed
notebook, its figures (PDF, PNG), its tables (CSV) and one HTML page; bad input is one line, exit code 2."""

import ast
import json
import shutil

import nbformat
import pandas as pd
import pytest
import torch

from scalpel_core import paths
from scalpel_core.checkpoints import MANIFEST, export_step, step_name, write_json
from scalpel_core.cli import main
from scalpel_core.lenses import spectra, weights
from scalpel_core.report import diagnose

KERNEL = "python3"  # the venv's own interpreter, as tests/test_notebooks.py runs the notebooks
STEPS = {2: 0.2, 4: 0.4}  # step -> share of every projection's entries moved by then


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))


@pytest.fixture(scope="module")
def base_and_run(tmp_path_factory, random_model, smoke_tokenizer):
    """A base (the random smoke model and its tokenizer) and a run folder in this project's layout
    (``export_step`` folders and a manifest; a trained smoke run takes a minute): step 2 moves 20% of
    every projection's entries, step 4 40% (a superset), each further."""
    root = tmp_path_factory.mktemp("report")
    base = root / "base"
    random_model.save_pretrained(base)
    smoke_tokenizer.save_pretrained(base)
    run = root / "grpo-s0"
    export_step(base, run, 0)
    g = torch.Generator().manual_seed(0)
    state = random_model.state_dict()
    draw = {k: (torch.rand(v.shape, generator=g), torch.randn(v.shape, generator=g)) for k, v in state.items()}
    entries = [{"step": 0, "fraction": 0.0, "path": step_name(0)}]
    for step, share in STEPS.items():
        moved = {k: torch.where(draw[k][0] < share, v + 0.05 * step * draw[k][1] * v.abs().mean(), v)
                 if k.endswith("_proj.weight") else v for k, v in state.items()}
        model = type(random_model)(random_model.config)
        model.load_state_dict(moved)
        model.save_pretrained(root / f"trained-{step}")
        export_step(root / f"trained-{step}", run, step)
        entries.append({"step": step, "fraction": step / max(STEPS), "path": step_name(step)})
    write_json(run / MANIFEST, {"run_id": run.name, "checkpoints": entries})
    return base, run


def _figures(out, names):
    for name in names:
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"


def test_a_run_folder_with_data(tmp_path, base_and_run, math500_file, random_model, capsys):
    base, run = base_and_run
    out = tmp_path / "report"
    assert main(["report", str(base), str(run), "--out", str(out), "--data", str(math500_file), "--limit", "3",
                 "--kernel", KERNEL]) == 0
    assert capsys.readouterr().out.split() == ["wrote", str(out / "report.ipynb"), "wrote", str(out / "report.html")]
    _figures(out, ("weight_heatmaps", "weight_trajectories", "sparsity", "rank", "rotation", "kl", "attention",
                   "attention_entropy"))
    html = (out / "report.html").read_text()
    assert len(html) > 200_000 and html.count("<img") == 8 and "data:image/png;base64," in html
    assert "run grpo-s0: 2 trained checkpoints" in html and "skipped" not in html

    layers, heads = random_model.config.num_hidden_layers, random_model.config.num_attention_heads
    w = pd.read_csv(out / "tables" / "weights.csv")  # the trained checkpoints (not step 0), over training
    assert set(w.run) == {"grpo-s0"} and list(dict.fromkeys(w.checkpoint)) == [step_name(s) for s in STEPS]
    assert dict(zip(w.step, w.fraction)) == {2: 0.5, 4: 1.0}
    assert len(w) == 2 * layers * 7 * len(weights.METRICS + weights.SPARSITY)
    unchanged = w[w.metric == "frac_unchanged"].groupby("step").value.mean()
    assert unchanged.to_dict() == pytest.approx({s: 1 - share for s, share in STEPS.items()}, abs=0.02)
    rel = w[w.metric == "rel_frobenius"].pivot_table(index=["layer", "matrix"], columns="step", values="value")
    assert (rel[4] > rel[2]).all() and (rel[2] > 0).all()

    s = pd.read_csv(out / "tables" / "spectra.csv")  # the checkpoints nearest 25, 50, 75, 100%: both
    assert set(s.checkpoint) == {step_name(2), step_name(4)} and set(s.metric) == set(spectra.METRICS)
    kl = pd.read_csv(out / "tables" / "kl.csv")
    assert kl.n.tolist() == [3, 3] and 0 < kl.kl[0] < kl.kl[1]
    att = pd.read_csv(out / "tables" / "attention.csv")  # the run's last checkpoint
    assert set(att.checkpoint) == {step_name(4)} and len(att) == layers * heads and (att.jsd > 0).all()
    overview = pd.read_csv(out / "tables" / "overview.csv")
    assert overview.checkpoint.tolist() == [step_name(2), step_name(4)] and overview.kl.tolist() == kl.kl.tolist()


def test_a_trained_smoke_run_and_two_of_its_checkpoints(tmp_path, smoke_runs, math500_file):
    """On a run that `scalpel train --preset smoke` trained (the session's GRPO run): its folder, and
    two of its checkpoint folders, each give a notebook and a page."""
    run = smoke_runs / "smoke" / "grpo-s0"
    entries = [p for p in sorted(run.glob("step-*")) if p.is_dir()]
    base, last = entries[0], entries[-1]
    out = tmp_path / "run"
    assert main(["report", str(base), str(run), "--out", str(out), "--data", str(math500_file), "--limit", "2",
                 "--kernel", KERNEL]) == 0
    assert (out / "report.ipynb").is_file() and "<img" in (out / "report.html").read_text()
    w = pd.read_csv(out / "tables" / "weights.csv")
    assert w.checkpoint.nunique() == len(entries) - 1 and last.name in set(w.checkpoint)
    assert set(pd.read_csv(out / "tables" / "attention.csv").checkpoint) == {last.name}
    two = tmp_path / "two"
    assert main(["report", str(base), str(entries[1]), str(last), "--out", str(two), "--kernel", KERNEL]) == 0
    assert (two / "report.ipynb").is_file() and (two / "report.html").stat().st_size > 100_000
    assert set(pd.read_csv(two / "tables" / "spectra.csv").checkpoint) == {entries[1].name, last.name}


def test_checkpoint_folders_without_data(tmp_path, base_and_run):
    """The base among the checkpoints moved nothing: every entry unchanged, rank 0, no rotation.
    Folders of one name get their parent's; without --data KL and attention are skipped, said so."""
    base, run = base_and_run
    copy = shutil.copytree(run / step_name(4), tmp_path / "elsewhere" / step_name(4))
    out = tmp_path / "report"
    assert main(["report", str(base), str(base), str(run / step_name(4)), str(copy), "--out", str(out),
                 "--kernel", KERNEL, "--svd", "full", "--no-cache"]) == 0
    _figures(out, ("weight_heatmaps", "sparsity", "rank", "rotation"))
    assert not (out / "figures" / "kl.png").exists() and not (out / "tables" / "attention.csv").exists()
    html = (out / "report.html").read_text()
    assert html.count("<img") == 4 and "KL skipped: no data" in html and "attention skipped: no data" in html
    assert "KL skipped: no data" in (out / "report.ipynb").read_text()
    assert not list((tmp_path / "artifacts").rglob("*.parquet"))  # --no-cache: nothing cached

    labels = ["base", "grpo-s0/step-000000004", "elsewhere/step-000000004"]
    w = pd.read_csv(out / "tables" / "weights.csv")
    assert list(dict.fromkeys(w.checkpoint)) == labels and (w.run == w.checkpoint).all() and (w.fraction == 1).all()
    own = w[w.checkpoint == "base"].set_index(["layer", "matrix", "metric"]).value
    assert (own.xs("frac_unchanged", level="metric") == 1).all()
    assert (own.xs("rel_frobenius", level="metric") == 0).all()
    same = [w[w.checkpoint == c].value.to_numpy() for c in labels[1:]]
    assert (same[0] == same[1]).all()
    s = pd.read_csv(out / "tables" / "spectra.csv").pivot_table(index="checkpoint", columns="metric", values="value")
    assert s.loc["base", "rank_fraction"] == 0 and s.loc["base", "spectrum_shift"] == 0
    assert s.loc["base", "left_angle_max@5%"] < 1e-3 and (s.loc[labels[1:], "rank_fraction"] > 0.5).all()


def test_the_report_notebook_is_a_clean_template():
    path = paths.notebooks_dir() / diagnose.NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    body = ast.parse(tagged[0].source).body
    assert all(isinstance(n, ast.Assign) for n in body)
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in body}  # literals only, as papermill sets them
    names = set(values)
    assert {"base", "checkpoints", "run", "out_dir", "data", "limit", "template", "svd", "use_cache"} <= names
    raw = json.loads(path.read_text())
    assert raw["metadata"]["kernelspec"] == json.loads((paths.notebooks_dir() / "03_weight_changes.ipynb").read_text())[
        "metadata"]["kernelspec"]
    assert all(not c.get("outputs") for c in raw["cells"]) and len({c["id"] for c in raw["cells"]}) == len(raw["cells"])


def test_the_skill_curve_marks_the_selection_rule():
    """The base's skill plot draws the selection split's greedy accuracy, its threshold and the step kept
    when the base was selected by its stage (config select_greedy), and none of them otherwise."""
    import matplotlib.pyplot as plt

    from scalpel_core.report import plots

    skill = pd.DataFrame({"step": [10, 20, 30], "mmlu": [0.3, 0.5, 0.6], "math500": [0.0, 0.1, 0.4]})
    selection = pd.DataFrame({"step": [5, 10, 15, 20, 25], "select_greedy": [0.0, 0.05, 0.2, 0.3, 0.45]})
    ax = plots.skill_curve(skill, {"mmlu": 0.25}, selection=selection, threshold=0.4).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["selection split (greedy)"].get_ydata()) == [0.0, 0.05, 0.2, 0.3, 0.45]
    assert list(lines["base kept (step 25)"].get_xdata()) == [25, 25]
    assert any(list(line.get_ydata()) == [0.4, 0.4] for line in ax.get_lines())
    plain = plots.skill_curve(skill, {"mmlu": 0.25}).axes[0]
    assert not [line for line in plain.get_lines() if "selection" in line.get_label() or "kept" in line.get_label()]
    plt.close("all")


def test_unique_labels():
    assert diagnose.unique_labels(["a", "b", "a"], ["x/a", "y/b", "z/a"]) == ["x/a", "b", "z/a"]
    assert diagnose.unique_labels(["a", "a"], ["x/a", "x/a"]) == ["x/a #1", "x/a #2"]


BAD = [  # (case, argv after `report`, what the one line says); {placeholders}: the test's paths
    ("missing-folder", "{base} {tmp}/missing --out {out}", "checkpoint {tmp}/missing is not a folder"),
    ("out-is-a-file", "{base} {run} --out {afile}", "--out {afile} cannot be written: it is a file"),
    ("no-weights", "{base} {no_weights} --out {out}", "has no *.safetensors weights"),
    ("neither-run-nor-model", "{base} {tmp}/empty --out {out}", "is neither a run folder"),
    ("run-missing-step", "{base} {broken_run} --out {out}", "lists step-000000004, which is missing"),
    ("data-missing", "{base} {run} --out {out} --data {tmp}/missing.jsonl", "--data: data file"),
    ("unknown-kernel", "{base} {run} --out {out} --kernel no-such-kernel", "no Jupyter kernel named 'no-such-kernel'"),
    ("limit-zero", "{base} {run} --out {out} --limit 0", "--limit 0: give at least 1 problem"),
]


@pytest.mark.parametrize("argv,says", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, base_and_run, capsys, argv, says):
    base, run = base_and_run
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_weights").mkdir()
    shutil.copy(base / "config.json", tmp_path / "no_weights")
    broken = shutil.copytree(run, tmp_path / "broken-s0", ignore=shutil.ignore_patterns(step_name(4)))
    where = {"base": base, "run": run, "tmp": tmp_path, "out": tmp_path / "out", "afile": tmp_path / "afile",
             "no_weights": tmp_path / "no_weights", "broken_run": broken}
    assert main(["report", *argv.format(**where).split()]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scalpel: ") and says.format(**where) in err, err
    assert not (tmp_path / "out").exists()  # refused before any work
