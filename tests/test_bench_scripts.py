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
def test_kl_benchmark_batched_equals_batch_size_1(tmp_path):
    text = _run("bench_kl.py", "--preset", "smoke", "--large", "test", "--batch-size", "8", env_root=tmp_path)
    diffs = [float(d) for d in re.findall(r"max rel\. diff ([0-9.e+-]+)", text.strip().splitlines()[-1])]
    assert len(diffs) == 2 and max(diffs) < 1e-4  # float32 rounding of different batch shapes
