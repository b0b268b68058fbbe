"""Every numbered notebook: one literal-only parameters cell, the project kernel, and it runs."""

import ast
import json

import nbformat
import pandas as pd
import pytest

from scalpel_core import paths
from scalpel_core.pipeline.reproduce import KERNEL, notebooks

NOTEBOOKS = notebooks()


def test_there_are_notebooks():
    assert [nb.name for nb in NOTEBOOKS][:1] == ["00_base_model.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_literal_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse(tagged[0].source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, "only plain assignments"
        assert not isinstance(node, ast.AnnAssign)
        ast.literal_eval(node.value)  # literals only: no derived values
        names.append(node.targets[0].id)
    assert "preset" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_project_kernel_and_no_stored_outputs_in_sources(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == KERNEL
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def _run_00(tmp_path, monkeypatch, **parameters) -> str:
    """Execute notebook 00 with papermill into ``tmp_path`` (artifacts and figures there too)."""
    import papermill as pm

    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    out = tmp_path / "00.ipynb"
    pm.execute_notebook(str(paths.notebooks_dir() / "00_base_model.ipynb"), str(out),
                        parameters={**parameters, "progress": False}, kernel_name="python3",
                        cwd=str(tmp_path), progress_bar=False)
    return out.read_text()


@pytest.mark.slow
def test_notebook_00_runs_on_smoke(tmp_path, monkeypatch):
    """Execute notebook 00 top to bottom with papermill, as `make reproduce` does."""
    text = _run_00(tmp_path, monkeypatch, preset="smoke")
    for name in ("base_scores", "base_pretraining_loss"):
        for ext in ("pdf", "png"):
            assert (tmp_path / "figures" / "smoke" / f"{name}.{ext}").stat().st_size > 1000
    assert "analogues scored: 8" in text and "all scores in [0, 1]: True" in text
    table = (tmp_path / "artifacts" / "smoke" / "tables" / "base_scores.csv").read_text().splitlines()
    assert len(table) == 9 and table[0].startswith("benchmark,key,score,chance,n")


@pytest.mark.slow
def test_notebook_00_runs_the_real_data_path_offline(tmp_path, monkeypatch, model_dir, openr1_dir, math500_file):
    """The paper-scale branch (hub model + OpenR1 + MATH-500), on local stand-ins."""
    overrides = {"base_model": str(model_dir), "train_dataset": str(openr1_dir),
                 "eval_dataset": str(math500_file), "max_new_tokens": 8}
    text = _run_00(tmp_path, monkeypatch, preset="gpu-small", overrides=overrides)
    assert "3 cn_k12 rows (2 within 4096 tokens: SFT-3ep's set); 10 MATH-500 problems" in text
    assert "greedy accuracy on the first 8 MATH-500 problems" in text


def test_set_progress_switches_hf_bars():
    import datasets
    from transformers.utils import logging as hf_logging

    from scalpel_core.pipeline.progress import set_progress

    assert set_progress(False) is False
    assert not hf_logging.is_progress_bar_enabled() and not datasets.is_progress_bar_enabled()
    set_progress(True)
    assert hf_logging.is_progress_bar_enabled() and datasets.is_progress_bar_enabled()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grpo", "sft3ep"])
def test_notebook_01_trains_and_plots_on_smoke(tmp_path, monkeypatch, artifacts, method):
    import papermill as pm

    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    out = tmp_path / "01.ipynb"
    pm.execute_notebook(str(paths.notebooks_dir() / "01_training.ipynb"), str(out),
                        parameters={"preset": "smoke", "method": method, "progress": False},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    text = out.read_text()
    assert "checkpoints: 4 + base, complete: True" in text
    assert ("reward: first 10%" in text) == (method == "grpo")
    assert "loss: first 10%" in text
    for ext in ("pdf", "png"):
        assert (tmp_path / "figures" / "smoke" / f"training_{method}-s0.{ext}").stat().st_size > 1000
    last = {"grpo": 8, "sft3ep": 6}[method]  # train_steps; sft3ep: 3 epochs of 46 // 16 steps
    assert (artifacts / "smoke" / f"{method}-s0" / f"step-{last:09d}" / "model.safetensors").is_file()


def _run(name, tmp_path, parameters) -> str:
    import papermill as pm

    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(paths.notebooks_dir() / f"{name}.ipynb"), str(out),
                        parameters={**parameters, "progress": False}, kernel_name="python3",
                        cwd=str(tmp_path), progress_bar=False)
    return out.read_text()


@pytest.mark.slow
def test_analysis_notebooks_run_on_smoke_runs(tmp_path, monkeypatch, smoke_runs):
    """Notebooks 03-05 on finished smoke runs: every figure and table of the paper's analyses."""
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(smoke_runs))
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    params = {"preset": "smoke", "run_ids": ["grpo-s0", "sft1ep-s0"]}
    figures = tmp_path / "figures" / "smoke"

    text = _run("03_weight_changes", tmp_path, params)
    assert "rows: 2 runs x 5 checkpoints x 2 layers x 7 matrices x 3 metrics" in text
    assert "sft1ep-s0 / grpo-s0" in text and "mid-layer MLP" in text
    for name in ("weight_heatmaps", "weight_heatmaps_shared", "weight_trajectories_grpo-s0",
                 "weight_trajectories_sft1ep-s0"):
        assert (figures / f"{name}.pdf").stat().st_size > 1000 and (figures / f"{name}.png").is_file()
    assert (figures / "weight_change.gif").read_bytes()[:6] == b"GIF89a"

    text = _run("04_kl_divergence", tmp_path, params)
    assert "final KL sft1ep / grpo, seed by seed:" in text
    assert pd.read_csv(smoke_runs / "smoke" / "tables" / "kl.csv").seed.tolist() == [0] * 10
    assert (figures / "kl_divergence.pdf").stat().st_size > 1000
    kl = pd.read_csv(smoke_runs / "smoke" / "tables" / "kl.csv")
    assert len(kl) == 2 * 5 and (kl[kl.step == 0].kl == 0).all() and (kl[kl.step > 0].kl >= 0).all()

    text = _run("05_benchmarks", tmp_path, params)
    assert "directions agree with the paper" in text
    assert (figures / "benchmarks.pdf").stat().st_size > 1000 and (figures / "retention.pdf").stat().st_size > 1000
    deltas = pd.read_csv(smoke_runs / "smoke" / "tables" / "benchmark_deltas.csv")
    assert {"heldout_ll", "mmlu_margin", "math500_ll"} <= set(deltas.key)  # retention beside accuracy
    assert set(deltas.seed.astype(str)) == {"0", "pooled"}
    side = pd.read_csv(figures / "benchmarks_vs_paper.csv")
    assert len(side) == 2 * 8 and set(side.ours_dir) <= {"↑", "↓", "="}
    assert "\n| MATH-500  " in (figures / "benchmarks_vs_paper.md").read_text()


@pytest.mark.slow
def test_analysis_notebook_names_a_missing_run(tmp_path, monkeypatch, artifacts):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError, match=r"run 'grpo-s0' of preset 'smoke' not found.*scalpel train"):
        _run("03_weight_changes", tmp_path, {"preset": "smoke", "run_ids": ["grpo-s0"]})
