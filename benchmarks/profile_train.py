"""Where a training step's time goes, on the tiny preset: GRPO's generation / reward / the rest
(log-probabilities, backward, optimizer), with TRL's ``model.generate`` rollouts against the fast
decoder; SFT with padded batches against padding-free ones (loss and tokens compared).

    .venv/bin/python benchmarks/profile_train.py               # tiny, 6 steps per variant
    .venv/bin/python benchmarks/profile_train.py --preset smoke --steps 2   # what the tests run

Each variant trains ``--steps`` optimizer steps in a throwaway artifacts folder that shares the
cached base. Ends with a SUMMARY line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Clock, table  # noqa: E402


def run_variant(preset: str, method: str, steps: int, root: Path, **overrides) -> dict:
    from scalpel_core import config, worlds
    from scalpel_core.train import trainer

    padding_free = overrides.pop("_padding_free", False)
    cfg = config.load(preset, method=method, train_steps=steps, n_checkpoints=1, **overrides)
    os.environ["SCALPEL_ARTIFACTS"] = str(root)
    worlds.load_base(cfg, progress=False)  # cached: not timed
    clock = Clock()
    made = []

    real = trainer._trainer

    def spy(*a, **k):
        t = real(*a, **k)
        made.append(t)
        if method == "grpo":
            clock.wrap(t, "_generate_single_turn", "generation")
            clock.wrap(t, "_calculate_rewards", "reward")
        return t
    trainer._trainer = spy
    trl_args = {"padding_free": True, "max_length": None} if padding_free else None
    t0 = time.perf_counter()
    try:
        run = trainer.train(cfg, run=f"profile-{method}-{len(list(root.glob('*/profile-*')))}",
                            trl_args=trl_args, progress=False)
    finally:
        trainer._trainer = real
    total = time.perf_counter() - t0
    log = [e for e in made[0].state.log_history if "loss" in e]
    train_s = sum(e.get("step_time", 0.0) for e in log) or total
    out = {"seconds": total, "train": train_s, "losses": [e["loss"] for e in log],
           "tokens": log[-1].get("num_tokens") if log else None, "run": run}
    out.update(clock.seconds)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args(argv)
    from scalpel_core import paths

    tmp = Path(tempfile.mkdtemp(prefix="profile-train-"))
    base = paths.artifacts_dir() / args.preset / "base"
    (tmp / args.preset).mkdir(parents=True)
    if base.is_dir():
        (tmp / args.preset / "base").symlink_to(base)
    rows, res = [], {}
    try:
        for name, method, kw in (("grpo, model.generate", "grpo", {"rollouts": "generate"}),
                                 ("grpo, fast decoder", "grpo", {"rollouts": "fast"}),
                                 ("sft1ep, padded", "sft1ep", {}),
                                 ("sft1ep, padding-free", "sft1ep", {"_padding_free": True})):
            r = res[name] = run_variant(args.preset, method, args.steps, tmp, **kw)
            step = r["train"] / args.steps
            gen, rew = r.get("generation", 0.0), r.get("reward", 0.0)
            rows.append({"variant": name, "s/step": f"{step:.2f}",
                         "generation": f"{gen / r['train']:.0%}" if gen else "",
                         "reward": f"{rew / r['train']:.0%}" if rew else "",
                         "rest (logprobs, backward, optim)": f"{(r['train'] - gen - rew) / r['train']:.0%}",
                         "first loss": f"{r['losses'][0]:.5f}", "tokens": r["tokens"]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows, list(rows[0])))
    g0, g1 = res["grpo, model.generate"], res["grpo, fast decoder"]
    s0, s1 = res["sft1ep, padded"], res["sft1ep, padding-free"]
    loss_gap = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(s0["losses"], s1["losses"]))
    print(f"SUMMARY grpo step {g0['train'] / g1['train']:.2f}x faster with the fast decoder (generation "
          f"{g0.get('generation', 0) / max(g1.get('generation', 1e-9), 1e-9):.2f}x); sft1ep step "
          f"{s0['train'] / s1['train']:.2f}x faster padding-free (largest relative loss difference {loss_gap:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
