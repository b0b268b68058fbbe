"""The benchmark scripts run, and the methods they compare agree (tiny shapes; timings not asserted)."""

import os
import re
import subprocess
import sys

import pytest

from scalpel_core import paths

BENCH = paths.REPO_ROOT / "benchmarks"


def _run(script, *args, env_root):
    env = dict(os.environ, SCALPEL_ARTIFACTS=str(env_root))
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_weight_benchmark_methods_agree_with_float64(tmp_path):
    text = _run("bench_weights.py", "--shape", "test", "--checkpoints", "2", "--repeats", "1", env_root=tmp_path)
    assert re.search(r"^streaming ", text, re.M) and re.search(r"^naive ", text, re.M)
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("SUMMARY weights: streaming speed-up over naive")
    errors = re.search(r"streaming ([0-9.e+-]+), naive ([0-9.e+-]+)", summary)
    assert float(errors.group(1)) < 1e-5 and float(errors.group(2)) < 1e-3
    assert len(list((tmp_path / "bench" / "olmo2-test-s0").glob("ckpt-*/*.safetensors"))) == 2


@pytest.mark.slow
def test_spectra_benchmark_full_and_randomized_agree_on_small_shapes(tmp_path):
    text = _run("bench_spectra.py", "--shape", "test", env_root=tmp_path)
    assert re.search(r"^full +96x96 ", text, re.M) and re.search(r"^randomized +256x96 ", text, re.M)
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("SUMMARY spectra (test, cpu): randomized speed-up over full")
    assert float(re.search(r"largest-angle difference ([0-9.e+-]+) deg", summary).group(1)) < 0.05


@pytest.mark.slow
def test_kl_benchmark_batched_equals_batch_size_1(tmp_path):
    text = _run("bench_kl.py", "--preset", "smoke", "--large", "test", "--batch-size", "8", env_root=tmp_path)
    diffs = [float(d) for d in re.findall(r"max rel\. diff ([0-9.e+-]+)", text.strip().splitlines()[-1])]
    assert len(diffs) == 2 and max(diffs) < 1e-4  # float32 rounding of different batch shapes


@pytest.mark.slow
def test_generate_benchmark_fast_decoder_matches_model_generate(tmp_path):
    text = _run("bench_generate.py", "--preset", "smoke", "--prompts", "40", "--sample-prompts", "8",
                "--samples", "4", env_root=tmp_path)
    assert re.search(r"^greedy, model\.generate batch 64 ", text, re.M)
    assert re.search(r"^sampled x4, fast decoder ", text, re.M)
    assert "greedy completions differing from model.generate: 0 of 40" in text
    assert "sampling reproducible from its seed: True" in text
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("SUMMARY generate: greedy fast / model.generate") and "greedy identical: True" in summary
    ceiling = re.search(r"-> ceiling ([0-9,]+) tokens/s", text)
    assert ceiling and int(ceiling.group(1).replace(",", "")) > 0


@pytest.mark.slow
def test_gpu_check_passes_on_cpu_at_tiny_shapes(tmp_path):
    """make gpu-check's script, as CI runs it (no CUDA): every check a row, every row ok."""
    text = _run("gpu_check.py", "--shapes", "test", env_root=tmp_path)
    for check in ("train grpo", "train sft1ep", "kl", "weights", "decode"):
        assert re.search(rf"^{check} .* ok\s*$", text, re.M), text
    assert text.strip().splitlines()[-1] == "SUMMARY gpu-check (cpu, test shapes): 5/5 ok"


def test_plan_profile_reads_papermill_timings_of_the_committed_runs(tmp_path):
    """Every executed smoke notebook is a row; start-up, imports and work add up to its duration."""
    text = _run("plan_profile.py", "--preset", "smoke", env_root=tmp_path)
    rows = [line.split() for line in text.splitlines() if re.match(r"^0\d_", line)]
    assert len(rows) == len(list((paths.REPO_ROOT / "papermill_runs" / "smoke").glob("*.ipynb")))
    for name, seconds, start, imports, work, *_ in rows:
        assert abs(float(seconds) - float(start) - float(imports) - float(work)) <= 1.5, name
    assert text.strip().splitlines()[-1].startswith("SUMMARY plan smoke: ")
