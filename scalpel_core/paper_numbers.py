"""The original paper's results (PAPER.md, read off the published figures), for side-by-side tables."""

# benchmark key -> (base, GRPO, SFT 1 epoch, SFT 3 epochs)
BENCHMARKS = {
    "aime24": (0.00, 0.03, 0.00, 0.00),
    "math500": (0.35, 0.40, 0.32, 0.42),
    "gsm8k": (0.80, 0.78, 0.73, 0.56),
    "gpqa": (0.27, 0.28, 0.25, 0.25),
    "mmlu": (0.62, 0.59, 0.57, 0.58),
    "mmlu_pro": (0.18, 0.17, 0.19, 0.18),
    "ifeval_prompt": (0.68, 0.47, 0.22, 0.33),
    "ifeval_inst": (0.77, 0.60, 0.34, 0.44),
}
RUNS = ("base", "grpo", "sft1ep", "sft3ep")


def paper_score(benchmark: str, run: str) -> float:
    return BENCHMARKS[benchmark][RUNS.index(run)]
