"""The `scalpel` CLI and the papermill runner behind `make reproduce`."""

import nbformat
import pytest

from scalpel_core import cli, paths, reproduce


def test_unknown_preset_is_refused_with_choices(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["base", "--preset", "tinyy"])
    assert err.value.code == 2
    assert "invalid choice: 'tinyy'" in capsys.readouterr().err


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, path)


def test_reproduce_runs_in_order_and_stops_at_first_failure(tmp_path, monkeypatch, capsys):
    nbs, runs = tmp_path / "notebooks", tmp_path / "runs"
    nbs.mkdir()
    _notebook(nbs / "00_ok.ipynb", 'preset = "x"\nprogress = True', "print('preset is', preset, progress)")
    _notebook(nbs / "01_bad.ipynb", 'preset = "x"', "x = 1", "raise RuntimeError('boom')")
    _notebook(nbs / "02_never.ipynb", 'preset = "x"', "print('should not run')")
    (nbs / "notes.ipynb").write_text("not numbered, not run")
    monkeypatch.setattr(paths, "notebooks_dir", lambda: nbs)
    monkeypatch.setattr(paths, "papermill_dir", lambda preset: runs / preset)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))

    assert reproduce.run_all("smoke", kernel="python3") == 1
    err = capsys.readouterr().err
    # the count is the one shown in the kept notebook (papermill injects a parameters cell)
    assert "FAILED: 01_bad.ipynb, cell In [4] (\"raise RuntimeError('boom')\"): RuntimeError: boom" in err
    assert "preset is smoke False" in (runs / "smoke" / "00_ok.ipynb").read_text()
    assert (runs / "smoke" / "01_bad.ipynb").exists()  # the partly executed notebook is kept
    assert not (runs / "smoke" / "02_never.ipynb").exists()
    # the miniature base was built up front, where its progress bar is visible
    assert list((tmp_path / "artifacts" / "smoke" / "base").glob("*/base_meta.json"))


def test_reproduce_runs_each_variant_into_its_own_copy(tmp_path, monkeypatch):
    nbs, runs = tmp_path / "notebooks", tmp_path / "runs"
    nbs.mkdir()
    _notebook(nbs / "01_train.ipynb", 'preset = "x"\nmethod = "m"\nprogress = True', "print('method is', method)")
    monkeypatch.setattr(paths, "notebooks_dir", lambda: nbs)
    monkeypatch.setattr(paths, "papermill_dir", lambda preset: runs / preset)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setattr(reproduce, "VARIANTS", {"01_train": [{"method": "grpo"}, {"method": "sft1ep"}]})

    assert [out.name for _, _, out in reproduce.executions("smoke")] == \
        ["01_train__grpo.ipynb", "01_train__sft1ep.ipynb"]
    assert reproduce.run_all("smoke", kernel="python3") == 0
    for method in ("grpo", "sft1ep"):
        assert f"method is {method}" in (runs / "smoke" / f"01_train__{method}.ipynb").read_text()


def test_the_training_notebook_runs_once_per_method():
    runs_ = [(nb.name, p.get("method"), out.name) for nb, p, out in reproduce.executions("tiny")]
    assert [r for r in runs_ if r[0] == "01_training.ipynb"] == [
        ("01_training.ipynb", m, f"01_training__{m}.ipynb") for m in ("grpo", "sft1ep", "sft3ep")]


def test_cli_starts_without_importing_torch():
    """Every error the CLI reports derives from config.ScalpelError, so `scalpel --help` and bad
    input answer at once instead of after loading torch and transformers."""
    import subprocess
    import sys

    code = "import sys, scalpel_core.cli; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_reported_error_is_a_scalpel_error():
    from scalpel_core.checkpoints import CheckpointError
    from scalpel_core.config import ConfigError, ScalpelError
    from scalpel_core.freeze import SpecError
    from scalpel_core.runs import RunExistsError
    from scalpel_core.train import TrainingDivergedError
    from scalpel_core.world.base import BaseModelError

    for cls, builtin in ((ConfigError, ValueError), (SpecError, ValueError), (RunExistsError, RuntimeError),
                         (TrainingDivergedError, RuntimeError), (CheckpointError, RuntimeError),
                         (BaseModelError, RuntimeError)):
        assert issubclass(cls, ScalpelError) and issubclass(cls, builtin)
