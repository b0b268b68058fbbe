"""The calibration figure (world v3): every setup target beside its measured value.

    from scalpel_core.report import calibplot
    fig = calibplot.figure(numbers)      # numbers: calibration.measure_setup(...)

Four panels: the base's pass@k on the dev split (greedy band, headroom, the teacher probe), the
knowledge analogues against their band and chance, the teacher traces' lengths against the budget,
and the probe's held-out trace loss until it plateaus.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .calibration import TARGETS

MET, MISSED = "tab:green", "tab:red"


def _mark(ok: bool) -> str:
    return MET if ok else MISSED


def figure(numbers: dict):
    t = TARGETS
    b = numbers["base"]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    pal = sns.color_palette("deep")

    ax = axes[0]
    ks = sorted(int(k) for k in b["pass_at"])
    ax.plot(ks, [b["pass_at"][str(k)] if str(k) in b["pass_at"] else b["pass_at"][k] for k in ks], "o-",
            color=pal[0], label="base, sampled pass@k")
    ax.axhspan(*t["base_greedy"], color="0.85", zorder=0, label="target band of base greedy")
    ax.axhline(b["greedy"], color=_mark(t["base_greedy"][0] <= b["greedy"] <= t["base_greedy"][1]), ls="--",
               label=f"base greedy {b['greedy']:.2f}")
    if "probe" in numbers:
        p = numbers["probe"]
        ax.axhline(p["greedy"], color=_mark(p["gain"] >= t["probe_gain"]), ls=":",
                   label=f"teacher probe greedy {p['greedy']:.2f} (target >= base + {t['probe_gain']})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("accuracy on the dev split")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Base on dev: headroom {b['headroom']:.2f} (target >= {t['base_headroom']})", fontsize=9)
    ax.legend(fontsize=6.5, loc="lower right")

    ax = axes[1]
    names = list(numbers["knowledge"])
    x = np.arange(len(names))
    for i, k in enumerate(names):
        v = numbers["knowledge"][k]
        ok = t["knowledge"][0] <= v["score"] <= t["knowledge"][1] and v["low"] > v["chance"]
        ax.bar(i, v["score"], color=_mark(ok), alpha=0.7)
        ax.plot([i, i], [v["low"], v["score"]], color="black", lw=1)
        ax.scatter(i, v["chance"], marker="_", s=300, color="black", zorder=3)
    ax.axhspan(*t["knowledge"], color="0.85", zorder=0)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1)
    ax.set_ylabel("base score (bar: 95% low end; dash: chance)")
    ax.set_title(f"Knowledge analogues in [{t['knowledge'][0]}, {t['knowledge'][1]}]", fontsize=9)

    ax = axes[2]
    tr = numbers["traces"]
    if tr.get("lengths"):
        ax.hist(tr["lengths"], bins=30, color=pal[2], alpha=0.8, label="teacher traces")
    ax.axvline(tr["budget"] * t["trace_share"], color="black", ls="--", label=f"{t['trace_share']} x budget")
    ax.axvline(tr["budget"], color="black", label=f"budget {tr['budget']} tokens")
    ax.axvline(tr["max"], color=_mark(tr["share"] <= t["trace_share"]), ls=":", label=f"longest {tr['max']}")
    ax.axvline(tr["base_mean"], color=pal[0], ls="-.", label=f"base answers, mean {tr['base_mean']:.0f}")
    ax.set_xlabel("tokens")
    ax.set_ylabel("post-training problems")
    ax.set_title("Teacher trace length against the budget", fontsize=9)
    ax.legend(fontsize=6.5)

    ax = axes[3]
    if "probe" in numbers and numbers["probe"]["curve"]:
        p = numbers["probe"]
        c = p["curve"]
        ax.plot([e["step"] for e in c], [e["eval_loss"] for e in c], "o-", color=pal[3])
        ax.axvline(p["best_step"], color="black", ls="--", label=f"best step {p['best_step']}")
        ax.set_title(f"Teacher probe: held-out trace loss ({'plateaued' if p['plateaued'] else 'step cap'}); "
                     f"format {p['format']:.2f}", fontsize=9)
        ax.legend(fontsize=7)
    else:
        ax.set_title("Teacher probe: not run", fontsize=9)
    ax.set_xlabel("probe optimizer step")
    ax.set_ylabel("held-out loss (nats per trace token)")
    fig.tight_layout()
    return fig
