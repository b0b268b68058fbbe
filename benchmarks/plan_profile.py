"""Where ``make reproduce`` spends its time: each plan step's notebook, split into kernel start-up,
the import cell, and its work cells, from papermill's own timings in the executed notebooks; and,
with ``--split``, one model's benchmark scoring split into generation, option scoring and grading.

    .venv/bin/python benchmarks/plan_profile.py                      # papermill_runs/tiny as it is now
    .venv/bin/python benchmarks/plan_profile.py --before 3569869     # ... beside an earlier commit's
    .venv/bin/python benchmarks/plan_profile.py --split              # + scoring split on the tiny base

Kernel start-up = the notebook's papermill duration minus the sum of its cells (starting the kernel,
papermill's bookkeeping, writing the notebook). The work of each notebook is named by what its
heaviest cell does (``KIND``); training cells are split further by benchmarks/profile_train.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import Clock, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# what the heaviest cell of each notebook does
KIND = {"00_base_model": "benchmark scoring of the base (generation + option scoring)",
        "01_training": "training (GRPO: generation + reward + backward; SFT: forward + backward)",
        "02_freeze_ablation": "benchmark scoring of 5 freeze models (generation + option scoring)",
        "03_weight_changes": "I/O: reading checkpoints (streamed weight change)",
        "04_kl_divergence": "teacher-forced scoring (KL forward passes)",
        "05_benchmarks": "benchmark scoring of 3 final models (generation + option scoring)",
        "06_inside_the_model": "I/O and SVDs (sparsity, rank, rotation) + eager forward passes (attention)",
        "08_claims": "tables and verdicts"}


def _notebooks(preset: str, rev: str | None) -> dict[str, dict]:
    folder = f"papermill_runs/{preset}"
    if rev is None:
        return {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / folder).glob("*.ipynb"))}
    names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", rev, folder + "/"],
                           capture_output=True, text=True, check=True).stdout.split()
    return {Path(n).stem: json.loads(subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{n}"],
                                                    capture_output=True, text=True, check=True).stdout)
            for n in names if n.endswith(".ipynb")}


def profile(nbs: dict[str, dict]) -> list[dict]:
    rows = []
    for name, nb in nbs.items():
        total = nb["metadata"].get("papermill", {}).get("duration") or 0.0
        cells = [(c["metadata"].get("papermill", {}).get("duration") or 0.0, "".join(c.get("source", "")))
                 for c in nb["cells"] if c["cell_type"] == "code"]
        imports = next((d for d, src in cells if "import " in src), 0.0)
        work = sum(d for d, _ in cells) - imports
        rows.append({"notebook": name, "seconds": total, "kernel start-up": total - work - imports,
                     "imports": imports, "work": work,
                     "work is": next((v for k, v in KIND.items() if name.startswith(k)), "")})
    return rows


def scoring_split(preset: str) -> dict[str, float]:
    """Seconds of one ``analogues.evaluate`` of the base, by part."""
    from scalpel_core import config, worlds
    from scalpel_core.eval import analogues

    cfg = config.load(preset)
    model, tokenizer, _ = worlds.load_base(cfg, progress=False)
    clock = Clock()
    clock.wrap(analogues, "generate", "generation")
    clock.wrap(analogues, "option_logprobs", "option scoring")
    clock.wrap(analogues, "is_correct", "grading (math-verify)")
    try:
        t = time.perf_counter()
        analogues.evaluate(model, tokenizer, worlds.world(cfg).benchmarks, cfg)
        total = time.perf_counter() - t
    finally:
        clock.restore()
    split = dict(clock.seconds, total=total)
    split["other"] = total - sum(clock.seconds.values())
    return split


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--before", help="a git revision whose executed notebooks to set beside today's")
    ap.add_argument("--split", action="store_true", help="also time one benchmark scoring of the base, by part")
    args = ap.parse_args(argv)
    now = profile(_notebooks(args.preset, None))
    fmt = ["seconds", "kernel start-up", "imports", "work"]
    out = [{**r, **{k: f"{r[k]:.0f}" for k in fmt}} for r in now]
    if args.before:
        before = {r["notebook"]: r for r in profile(_notebooks(args.preset, args.before))}
        for r, raw in zip(out, now):
            b = before.get(raw["notebook"])
            r[f"seconds at {args.before[:7]}"] = f"{b['seconds']:.0f}" if b else ""
            r["ratio"] = f"{b['seconds'] / raw['seconds']:.1f}x" if b and raw["seconds"] else ""
    print(table(out, list(out[0])))
    total = sum(r["seconds"] for r in now)
    start = sum(r["kernel start-up"] + r["imports"] for r in now)
    line = f"SUMMARY plan {args.preset}: {total:.0f} s in {len(now)} notebooks; kernel start-up + imports {start:.0f} s ({start / total:.0%})"
    if args.before:
        btotal = sum(r["seconds"] for r in before.values())
        line += f"; at {args.before[:7]}: {btotal:.0f} s ({btotal / total:.2f}x)"
    if args.split:
        split = scoring_split(args.preset)
        print("one benchmark scoring of the base: " + ", ".join(
            f"{k} {v:.1f} s ({v / split['total']:.0%})" for k, v in split.items() if k != "total")
            + f"; total {split['total']:.1f} s")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
