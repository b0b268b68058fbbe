"""End-to-end benchmark: the wall time of `make reproduce` on a preset, per plan step (all forced to run).

    python benchmarks/bench_e2e.py                      # as things are (cached steps are fast)
    python benchmarks/bench_e2e.py --clean analyses     # empty the analysis caches first
    python benchmarks/bench_e2e.py --clean runs         # also delete the post-training runs (retrain)

The base model is never deleted (its pretraining is not part of the reproduce limit).
Prints each stage's time as `scalpel reproduce` reports it, and the total.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402

from scalpel_core import paths  # noqa: E402

LIMIT_MINUTES = 30  # the pipeline issue's limit for `make reproduce` on tiny, base pretraining excluded


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--clean", choices=["none", "analyses", "runs"], default="none")
    args = p.parse_args()
    root = paths.artifacts_dir()
    if args.clean in ("analyses", "runs"):
        shutil.rmtree(root / "cache", ignore_errors=True)
    if args.clean == "runs":
        for run in (root / args.preset).glob("*-s[0-9]*"):
            shutil.rmtree(run)
    scalpel = Path(sys.executable).with_name("scalpel")
    t0 = time.perf_counter()
    # --force: time every step, including those the plan would skip as up to date
    proc = subprocess.Popen([str(scalpel), "reproduce", "--preset", args.preset, "--force"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=paths.REPO_ROOT)
    stages = []
    for raw in proc.stdout:
        line = raw.rsplit("\r", 1)[-1]  # drop papermill's progress bar drawn before it
        if line.startswith("[reproduce]"):
            print(line, end="", flush=True)
            m = re.match(r"\[reproduce\] \[\d+/\d+\] (\S+) done in (\d+) s", line)
            if m:
                stages.append({"stage": m.group(1), "seconds": int(m.group(2))})
    if proc.wait():
        sys.exit(f"scalpel reproduce --preset {args.preset} failed")
    total = time.perf_counter() - t0
    analyses = sum(s["seconds"] for s in stages if s["stage"] in ("weights", "kl", "benchmarks"))
    print(f"\nmake reproduce, preset {args.preset}, clean={args.clean}")
    print(common.table(stages + [{"stage": "total (wall)", "seconds": f"{total:.0f}"}], ["stage", "seconds"]))
    print("SUMMARY e2e: " + common.verdict("total minutes", total / 60, LIMIT_MINUTES, " min", higher=False)
          + f"; analyses (weights, kl, benchmarks) {analyses} s "
          + ("(target <= 300 s: met)" if analyses <= 300 else f"(target <= 300 s: MISSES by {analyses - 300} s)"))


if __name__ == "__main__":
    main()
