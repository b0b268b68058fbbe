"""Human-readable examples of every task of the miniature world (for notebook 00)."""

from __future__ import annotations

from ..data.prompts import SYSTEM_PROMPT


def _user(item: dict) -> str:
    return item["prompt"][-1]["content"]


def examples(world, n: int = 2) -> str:
    """A text block with ``n`` examples of every task: what the model sees and what is expected."""
    out = [f"System prompt (maths tasks): {SYSTEM_PROMPT!r}", ""]
    for ex in world.k12_train[:n]:
        out += ["[K12 post-training] " + ex["problem"], "  gold answer: " + ex["answer"],
                "  teacher trace (SFT target): " + ex["teacher_solution"].replace("\n", "\\n"), ""]
    for name, rows in world.benchmarks.items():
        for it in rows[:n]:
            out.append(f"[{name}] " + _user(it).replace("\n", " | "))
            if "answer" in it:
                out.append("  gold answer: " + it["answer"])
            if "options" in it:
                out.append(f"  answer: {it['answer_prefix']} ... -> {it['options'][it['label']]}")
            if "spec" in it:
                out.append(f"  checked: count={it['spec']['k']}, constraints={it['spec']['constraints']}")
        out.append("")
    return "\n".join(out)
