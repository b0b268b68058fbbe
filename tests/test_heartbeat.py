"""Progress where the user waits: heartbeat lines from inside a notebook kernel, relayed to the
terminal of `scalpel reproduce` (scalpel_core.heartbeat, pipeline.progress.relay)."""

import os
import subprocess
import sys

import nbformat
import pytest

from scalpel_core import heartbeat, paths
from scalpel_core.eval.generation import generate
from scalpel_core.pipeline import progress, reproduce


def test_without_a_runner_nothing_is_written(monkeypatch, tmp_path):
    monkeypatch.delenv(heartbeat.ENV, raising=False)
    heartbeat.beat("nobody listens")  # no error, no file
    tick = heartbeat.Ticker("work", 3, every=0)
    tick.update(3)
    assert not heartbeat.enabled() and list(tmp_path.iterdir()) == []


def test_a_ticker_is_quiet_for_short_loops_and_closes_long_ones(monkeypatch, tmp_path):
    f = tmp_path / "beats.log"
    monkeypatch.setenv(heartbeat.ENV, str(f))
    heartbeat.Ticker("short", 4).update(4)  # done long before 30 s: no line
    assert not f.exists()
    tick = heartbeat.Ticker("sampling", 4, " seq", every=0)
    for _ in range(4):
        tick.update(1)
    tick.update(1)  # past the end: nothing more
    lines = f.read_text().splitlines()
    assert [ln.split(" after ")[0] for ln in lines] == [f"sampling: {k}/4 seq" for k in (1, 2, 3, 4)]
    assert "left" in lines[0] and "left" not in lines[-1]


def test_relay_prints_what_another_process_beats(monkeypatch):
    monkeypatch.delenv(heartbeat.ENV, raising=False)
    seen = []
    with progress.relay("[step] ", write=seen.append, interval=0.05) as file:
        code = "from scalpel_core import heartbeat\nfor i in (1, 2): heartbeat.beat(f'model {i}/2')"
        subprocess.run([sys.executable, "-c", code], check=True)  # inherits the environment, as a kernel does
    assert seen == ["[step] model 1/2", "[step] model 2/2"]
    assert heartbeat.ENV not in os.environ and not file.exists()  # the environment as it was


def test_a_long_decode_beats(monkeypatch, tmp_path, random_model, smoke_tokenizer):
    f = tmp_path / "beats.log"
    monkeypatch.setenv(heartbeat.ENV, str(f))
    monkeypatch.setattr(heartbeat, "EVERY", 0.0)  # every update is "long"
    prompts = [[{"role": "user", "content": p}] for p in ("one", "two", "three")]
    generate(random_model, smoke_tokenizer, prompts, max_new_tokens=2, batch_size=1, desc="ifeval")
    lines = f.read_text().splitlines()
    assert lines and lines[-1].startswith("ifeval: 3/3 seq after ")


@pytest.mark.slow
def test_reproduce_shows_a_notebooks_inner_progress(tmp_path, monkeypatch, capsys):
    """A step's kernel beats; the terminal shows each line under the step's name, the notebook none."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('preset = "x"\nprogress = False'),
                nbformat.v4.new_code_cell("from scalpel_core import heartbeat\n"
                                          "for i, m in enumerate(['base', 'grpo'], 1):\n"
                                          "    heartbeat.beat(f'benchmarks {i}/2: {m}')")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, nbs / "a.ipynb")
    monkeypatch.setattr(paths, "notebooks_dir", lambda: nbs)
    monkeypatch.setattr(paths, "papermill_dir", lambda preset: tmp_path / "runs" / preset)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SCALPEL_FIGURES", str(tmp_path / "figures"))
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("steps:\n  scoring:\n    notebook: a.ipynb\n    output: a.ipynb\n")

    assert reproduce.run_all("smoke", kernel="python3", plan_file=plan_file, prepare=False) == 0

    out = capsys.readouterr().out
    assert "[reproduce]   scoring: benchmarks 1/2: base\n[reproduce]   scoring: benchmarks 2/2: grpo\n" in out
    assert "benchmarks 1/2" not in (tmp_path / "runs" / "smoke" / "a.ipynb").read_text()
