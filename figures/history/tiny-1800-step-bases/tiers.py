"""Score a base on candidate tiers of in-domain problems (no retraining): [greedy, sampled pass@1, pass@32]
on 80 fresh problems per tier (none in the world's sets), as in tiers.json here. Command (builds the base
first if it is not cached, about 30 minutes at 1800 steps):

    .venv/bin/python figures/history/tiny-1800-step-bases/tiers.py tiny pretrain_steps=1800
"""
import json, sys, random, torch, numpy as np
torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
from scalpel_core import config, worlds
from scalpel_core.checkpoints import load_checked
from scalpel_core.eval import passk
from scalpel_core.eval.analogues import score_maths
from scalpel_core.world import maths
from scalpel_core.world.build import _unique_maths
from transformers import AutoTokenizer
draw = sys.argv[1]; over = {}
for kv in sys.argv[2:]:
    k, v = kv.split("="); over[k] = type(getattr(config.load("tiny"), k))(v)
cfg = config.load(draw, n_worlds=12, **over)
world = worlds.world(cfg)
base = worlds.build_base(cfg, built=world, progress=False)
tok = AutoTokenizer.from_pretrained(base); model = load_checked(base)

def chain(n, lo, hi):
    def make(rng):
        terms = [("", rng.randint(lo, hi))]; acc = terms[0][1]
        for _ in range(n - 1):
            v = rng.randint(lo, hi); op = rng.choice("+-") if acc >= v else "+"
            acc = acc + v if op == "+" else acc - v; terms.append((op, v))
        return terms
    return make
tiers = {"easy2": chain(2, 2, 50), "easy3": chain(3, 2, 50), "easy4": chain(4, 2, 50), "easy5": chain(5, 2, 50),
         "mid2_51_99": chain(2, 51, 99), "mid2_2_99": chain(2, 2, 99), "mid3_2_99": chain(3, 2, 99), "hard2": chain(2, 10, 999)}
out = {"draw": draw, "over": over}
for name, make in tiers.items():
    items = _unique_maths(random.Random(f"tiers-{name}"), 80, make, "dev", set(world.taken))
    g = np.array([r["correct"] for r in score_maths(model, tok, items, cfg, False)], float)
    c = np.asarray(passk.counts_folder(base, items, n=32, max_new_tokens=cfg.max_new_tokens)["correct"], float)
    out[name] = [round(g.mean(), 2), round((c / 32).mean(), 2), round((c > 0).mean(), 2)]
print(json.dumps(out))
