"""pass@k: does training widen what a model can solve, or sharpen what it already could?

    counts = passk.counts_folder(ckpt_dir, items, n=32)       # per problem, correct samples out of n
    curve = passk.curve(counts["correct"], n=32)               # mean pass@k over problems at k = 1, 2, 4, ..., n
    passk.crossing(base_pk, [grpo_pk], ks)                     # the k where the advantage changes sign, bootstrap CI

The estimator is the unbiased one of Chen et al. 2021 (the Codex paper), as Yue et al. 2025 ("Does
Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?") use it:
per problem with ``c`` correct of ``n`` samples, pass@k = 1 - C(n-c, k) / C(n, k), computed as the
stable product 1 - prod_{i=n-c+1}^{n} (1 - k/i); then the mean over problems. Samples are drawn at
temperature 0.6 and top-p 0.95 (Yue et al.'s setting) with the fast decoder
(:mod:`scalpel_core.eval.decoding`) or ``model.generate``, and with vLLM when it is installed and a
GPU is there (paper scale). Answers are graded by math-verify (:func:`scalpel_core.eval.rewards.is_correct`).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from .. import cache
from ..checkpoints import load_checked
from ..config import family

TEMPERATURE = 0.6  # Yue et al. 2025
TOP_P = 0.95  # Yue et al. 2025
VERSION = 1  # bump when sampling or grading changes (invalidates cached counts)
SAMPLES = {"smoke": 8}  # samples per problem of notebook 07 per preset; every other preset: N_SAMPLES
N_SAMPLES = 32  # the minimum on tiny (Yue et al. go to 256 at paper scale: raise it there)


def n_samples(preset: str) -> int:
    """Notebook 07's samples per problem for ``preset`` (:data:`SAMPLES`, else :data:`N_SAMPLES`)."""
    return SAMPLES.get(family(preset), N_SAMPLES)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples (``1 <= k <= n``)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ks_for(n: int) -> list[int]:
    """The k of a curve: 1, 2, 4, ... up to ``n``, and ``n`` itself."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks + ([n] if ks[-1] != n else [])


def per_problem(correct, n: int, ks=None) -> np.ndarray:
    """problems x ks: each problem's pass@k from its number of correct samples."""
    ks = ks_for(n) if ks is None else ks
    return np.array([[pass_at_k(n, int(c), k) for k in ks] for c in correct], dtype=float).reshape(len(correct), len(ks))


def curve(correct, n: int, ks=None) -> np.ndarray:
    """Mean pass@k over problems, at each k of ``ks`` (default :func:`ks_for`)."""
    return per_problem(correct, n, ks).mean(0)


def gained_lost(base_correct, correct) -> tuple[float, float]:
    """Shares of problems the model solves at least once and the base never does ("gained"),
    and the reverse ("lost"), both in the same number of samples."""
    base, model = np.asarray(base_correct) > 0, np.asarray(correct) > 0
    if base.shape != model.shape:
        raise ValueError(f"gained/lost needs the same problems: {base.shape} against {model.shape}")
    return float((model & ~base).mean()), float((base & ~model).mean())


def _first_flip(diff: np.ndarray, sign: int | None = None) -> int | None:
    """Index of the first k at which ``diff`` (model - base per k) has left ``sign`` (default: its
    own first non-zero sign, the sign at k=1 unless the two curves start equal), or None. Leading
    ks where the curves are equal are skipped; with ``sign`` given, a ``diff`` whose first non-zero
    value has the other sign has left it there (it had no advantage to lose)."""
    nonzero = np.nonzero(diff)[0]
    if not len(nonzero):
        return None
    start = nonzero[0]
    sign = np.sign(diff[start]) if sign is None else sign
    flipped = np.nonzero(diff[start:] * sign <= 0)[0]
    return int(start + flipped[0]) if len(flipped) else None


def pooled_difference(models: np.ndarray, base_pk: np.ndarray) -> np.ndarray:
    """The mean over seeds and problems at once of (model - base) per k (``models``: seeds x
    problems x ks): an exact tie gives exactly 0, which averaging over seeds first need not."""
    return (np.asarray(models) - np.asarray(base_pk)[None]).mean((0, 1))


def crossing(base_pk: np.ndarray, model_pks, ks, n_boot: int = 1000, seed: int = 0) -> dict:
    """Where the trained model's pass@k advantage over the base changes sign.

    ``base_pk`` is problems x ks (:func:`per_problem`); ``model_pks`` a list of such arrays, one per
    training seed (the curve is their mean over seeds and problems at once). Returns ``sign`` (+1: the model starts above the base, at
    the first k where the curves differ), ``k`` (the first k of ``ks`` where the difference has left
    that sign: the advantage gone, equal curves included, or reversed; None: no crossing up to n),
    and a bootstrap 95% interval ``lo``/``hi`` over problems and seeds (None: beyond n), with
    ``p_cross``, the share of resamples that cross at all. Every resample is judged against the
    point estimate's sign: one that starts on the other side of the base crosses at its first k."""
    base_pk = np.asarray(base_pk)
    models = np.stack([np.asarray(m) for m in model_pks])  # seeds x problems x ks
    diff = pooled_difference(models, base_pk)
    at = _first_flip(diff)
    nonzero = np.nonzero(diff)[0]
    sign = int(np.sign(diff[nonzero[0]])) if len(nonzero) else 0
    rng = np.random.default_rng(seed)
    n_seeds, n_problems = models.shape[:2]
    found = np.empty(n_boot)
    for b in range(n_boot):
        s = rng.integers(0, n_seeds, n_seeds)
        p = rng.integers(0, n_problems, n_problems)
        d = pooled_difference(models[s][:, p], base_pk[p])
        i = _first_flip(d, sign or None)  # every resample judged against the point estimate's sign
        found[b] = np.inf if i is None else ks[i]
    lo, hi = np.percentile(found, [2.5, 97.5], method="lower"), np.percentile(found, [2.5, 97.5], method="higher")
    return {"sign": sign, "k": None if at is None else int(ks[at]),
            "lo": None if np.isinf(lo[0]) else int(lo[0]), "hi": None if np.isinf(hi[1]) else int(hi[1]),
            "p_cross": float(np.isfinite(found).mean())}


def vllm_ready() -> bool:
    """Whether vLLM is installed and a GPU is there (paper scale samples with it)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _vllm_sample(path, prompts, n, max_new_tokens, temperature, top_p, seed) -> list[list[str]]:
    from vllm import LLM, SamplingParams

    llm = LLM(model=str(path), seed=seed)
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed)
    return [[o.text for o in out.outputs] for out in llm.chat(prompts, params)]


def sample_correct(path, items: list[dict], n: int, max_new_tokens: int, temperature: float = TEMPERATURE,
                   top_p: float = TOP_P, seed: int = 0, batch_size: int = 512, progress: bool = False,
                   engine: str = "auto") -> dict:
    """Sample ``n`` completions per item (``prompt``: chat messages, ``answer``: gold) from the model
    in ``path`` and grade them. Returns ``correct`` (per item, how many of the n are right) and
    ``tokens`` (mean completion length in tokens). ``engine``: ``auto`` (vLLM when :func:`vllm_ready`,
    else transformers), ``vllm`` or ``transformers``."""
    from transformers import AutoTokenizer

    from .generation import sample
    from .rewards import is_correct

    tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = [it["prompt"] for it in items]
    if engine == "vllm" or (engine == "auto" and vllm_ready()):
        outs = _vllm_sample(path, prompts, n, max_new_tokens, temperature, top_p, seed)
    else:
        model = load_checked(path)
        outs = sample(model, tokenizer, prompts, n, max_new_tokens, temperature, top_p, seed, batch_size,
                      progress, desc=f"pass@k {Path(path).name}")
    correct = [sum(is_correct(o, it["answer"]) for o in row) for row, it in zip(outs, items)]
    lengths = [len(tokenizer(o, add_special_tokens=False)["input_ids"]) for row in outs for o in row]
    return {"n": n, "correct": correct, "tokens": float(np.mean(lengths)) if lengths else 0.0}


def counts_folder(path, items: list[dict], n: int, max_new_tokens: int, temperature: float = TEMPERATURE,
                  top_p: float = TOP_P, seed: int = 0, batch_size: int = 512, progress: bool = False,
                  use_cache: bool = True, engine: str = "auto") -> dict:
    """:func:`sample_correct` of the model in ``path``, cached by its content hash, the items and
    every sampling setting."""
    digest = cache.checkpoint_digest(Path(path))
    file = cache.cache_dir("passk") / (cache.key(
        "passk", VERSION, digest, cache.json_hash(items, 16), n, max_new_tokens, temperature, top_p, seed,
        batch_size, engine if engine != "auto" else ("vllm" if vllm_ready() else "transformers")) + ".json")
    if use_cache and file.is_file():
        return json.loads(file.read_text())
    result = sample_correct(path, items, n, max_new_tokens, temperature, top_p, seed, batch_size, progress, engine)
    if use_cache:
        file.write_text(json.dumps(result))
    return result


def subset(items: list, size: int, seed: int = 0) -> list:
    """A fixed seeded subset of ``size`` items, in their original order (all of them if fewer)."""
    if size <= 0 or size >= len(items):
        return list(items)
    keep = sorted(np.random.default_rng(seed).choice(len(items), size, replace=False).tolist())
    return [items[i] for i in keep]
