"""The one switch between the two worlds (README, "Two worlds, one code path"): every module and
notebook that needs world-specific data or behaviour asks here, and nowhere else is
``cfg.world`` compared.

    from scalpel_core import worlds
    worlds.training_set(cfg, tokenizer)        # the post-training problems (prompt, completion, answer)
    worlds.math500_conversations(cfg)           # MATH-500 (or its analogue) for the teacher-forced KL
    worlds.base_source(cfg)                     # the base model: a pretrained miniature folder, or a hub id / path
    worlds.score_models({"base": path, ...}, cfg)   # every benchmark: analogues, or lm-evaluation-harness

- **mini** (presets ``smoke`` and ``tiny``): the synthetic world of :mod:`scalpel_core.world`, built
  offline from the config, with a base model pretrained here and cached by config hash.
- **real** (presets ``gpu-small`` and ``paper``): OpenR1-Math cn_k12, MATH-500 and a released OLMo-2
  from the hub or local copies (:mod:`scalpel_core.data.hub`), scored with lm-evaluation-harness.
"""

from __future__ import annotations

from pathlib import Path

from . import heartbeat
from . import config
from .config import Config


def miniature(cfg: Config) -> bool:
    """Whether ``cfg`` lives in the miniature world (its base is pretrained here)."""
    return cfg.world == "mini"


def draws(preset: str) -> list[str]:
    """The preset names of every admitted world draw of ``preset``'s family, draw 0 first (config
    n_worlds, skipping rejected_draws; the real world has one: its base model and data are given)."""
    cfg = config.load(config.family(preset))
    if not miniature(cfg):
        return [cfg.preset]
    return [config.draw_name(preset, k) for k in config.draw_offsets(cfg.n_worlds, cfg.rejected_draws)]


def rejected_draws(preset: str) -> list[str]:
    """The preset names of the world draws of ``preset``'s family refused at admission (their base
    missed a base target of the calibration; config rejected_draws)."""
    cfg = config.load(config.family(preset))
    return [config.draw_name(preset, k) for k in config.rejected_offsets(cfg.rejected_draws)] if miniature(cfg) else []


def base_identity(cfg: Config) -> dict:
    """What identifies the base a run starts from, beyond the config's own fields: the miniature
    base's config hash (``{}`` in the real world, where ``base_model`` names it)."""
    return {"base_hash": cfg.base_hash} if miniature(cfg) else {}


def _skill_probe(model, tokenizer, built) -> dict:
    """The base's skill while it pretrains (every 10%): the knowledge analogues and 100 MATH-500 problems."""
    from .eval.analogues import skill_scores

    return skill_scores(model, tokenizer, built.benchmarks, built.cfg)


def _select_probe(model, tokenizer, built) -> float:
    """The base-selection rule's score (world v4 candidate): greedy accuracy on the selection split."""
    from .eval.analogues import score_maths

    rows = score_maths(model, tokenizer, built.select, built.cfg)
    return sum(r["correct"] for r in rows) / len(rows)


def build_base(cfg: Config, rebuild: bool = False, progress: bool = True, built=None) -> Path:
    """The miniature base's folder, pretrained first (its skill logged every 10%; with select_greedy,
    stopped at the first 5% checkpoint that reaches it on the selection split) if not cached;
    a :class:`~scalpel_core.config.ConfigError` for a preset of the real world."""
    from .world.base import build_base as build

    return build(cfg, rebuild=rebuild, progress=progress, world=built, skill=_skill_probe, select=_select_probe)


def prepare_base(cfg: Config, progress: bool = True) -> Path | None:
    """Build (or find) the miniature base; ``None`` in the real world, which has nothing to build."""
    if not miniature(cfg):
        return None
    return build_base(cfg, progress=progress)


def base_source(cfg: Config, progress: bool = False) -> str:
    """The base model to post-train: the miniature base's folder (built if missing), or ``base_model``."""
    path = prepare_base(cfg, progress)
    return str(path) if path is not None else cfg.base_model


def load_base(cfg: Config, rebuild: bool = False, progress: bool = True, built=None):
    """``(model, tokenizer, path)`` of the base: the miniature one (pretrained first if not cached,
    from the ``built`` world if given; ``path`` its folder) or the released model (``path`` None),
    on CUDA in bf16 when there is one."""
    if miniature(cfg):
        from .world.base import load_base as load_mini

        path = build_base(cfg, rebuild=rebuild, progress=progress, built=built)
        model, tokenizer = load_mini(path, cfg.preset)
        return model, tokenizer, path
    import torch

    from .data.hub import load_model

    device = "cuda" if torch.cuda.is_available() else None
    model, tokenizer = load_model(cfg.base_model, dtype="bfloat16" if device else "float32", device=device)
    return model, tokenizer, None


def check_sources(cfg: Config) -> None:
    """Before any slow work: in the real world, that the base model (a local folder with tokenizer
    and chat template, or a hub model that can be fetched) and the training set (with OpenR1-Math's
    columns) are there, else an error naming which and what to pass instead. Nothing to check in the
    miniature world, which builds both."""
    if miniature(cfg):
        return
    from .data import hub

    hub.check_model(cfg.base_model, "base_model")
    hub.check_source(cfg.train_dataset, hub.OPENR1_COLUMNS, cfg.train_dataset_config)


def world(cfg: Config):
    """The miniature :class:`~scalpel_core.world.build.World` of ``cfg`` (an error in the real world)."""
    from .world.build import build_world

    return build_world(cfg)


def describe(cfg: Config, tokenizer=None, built=None, n: int = 2) -> str:
    """A look at the data: ``n`` examples of every miniature task (of the ``built`` world, built if
    not given), or the real sets' sizes and a prompt (rendered with ``tokenizer``, the base's if not given)."""
    if miniature(cfg):
        from .world.show import examples

        return examples(built or world(cfg), n=n)
    k12, math500 = _real_training_rows(cfg, tokenizer), _real_math500(cfg)
    within = sum(n <= cfg.max_length for n in k12["n_tokens"])
    return (f"{len(k12)} {cfg.train_source} rows ({within} within {cfg.max_length} tokens: SFT-3ep's set); "
            f"{len(math500)} MATH-500 problems\n"
            f"GRPO prompt: {k12[0]['prompt']}\ngold answer: {k12[0]['answer']}")


def _real_training_rows(cfg: Config, tokenizer):
    """OpenR1 cn_k12. As the authors ran it, only SFT-3ep's set is filtered to ``max_length`` tokens;
    GRPO and SFT-1ep take every row (SFT-1ep truncates at ``max_length``)."""
    from .data.hub import load_openr1_k12

    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(cfg.base_model)
    return load_openr1_k12(tokenizer, cfg.train_dataset, cfg.train_dataset_config, keep_source=cfg.train_source,
                           max_length=cfg.max_length if cfg.method == "sft3ep" else None)


def training_tokenizer(cfg: Config, tokenizer):
    """The tokenizer of a run, its chat template set by ``train_template`` in the real world (the
    authors' by default, saved with every checkpoint as theirs was); the miniature world's own."""
    if not miniature(cfg):
        from .data.prompts import TEMPLATES

        tokenizer.chat_template = TEMPLATES[cfg.train_template]
    return tokenizer


def _real_math500(cfg: Config):
    from .data.hub import load_math500

    return load_math500(cfg.eval_dataset)


def training_set(cfg: Config, tokenizer=None):
    """The post-training problems as a TRL dataset: ``prompt`` (chat), ``completion`` (the teacher
    trace, for SFT), ``answer`` and ``solution`` (gold, for GRPO's accuracy rewards); the first
    ``n_train_problems`` (0: all). In the real world with the authors' template, an SFT prompt is
    the problem alone and the template injects the system prompt, as their `messages` were rendered."""
    from datasets import Dataset

    if miniature(cfg):
        rows = world(cfg).k12_train[: cfg.n_train_problems or None]
        return Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"], "solution": r["solution"],
                                   "completion": [{"role": "assistant", "content": r["teacher_solution"]}]}
                                  for r in rows])
    ds = _real_training_rows(cfg, tokenizer)
    if cfg.n_train_problems:
        ds = ds.select(range(min(cfg.n_train_problems, len(ds))))
    if cfg.method != "grpo" and cfg.train_template == "authors":
        ds = ds.map(lambda p: {"prompt": [m for m in p if m["role"] != "system"]}, input_columns="prompt")
    return ds.select_columns(["prompt", "completion", "answer", "solution"])


def sft_max_length(cfg: Config) -> int:
    """Longest SFT conversation in tokens: the miniature model's context, or ``max_length`` (paper: 4096)."""
    return cfg.max_seq_len if miniature(cfg) else cfg.max_length


def math500_conversations(cfg: Config) -> list[list[dict]]:
    """MATH-500 (or, in the miniature world, its analogue) as [user: problem, assistant: reference
    solution] chats: the text the KL is teacher-forced on."""
    if miniature(cfg):
        return [[it["prompt"][-1], {"role": "assistant", "content": it["solution"]}]
                for it in world(cfg).benchmarks["math500"]]
    return list(_real_math500(cfg)["messages"])


def math500_prompts(cfg: Config, limit: int | None = None) -> list[dict]:
    """MATH-500 (or its analogue) for generation: ``prompt`` (system prompt + problem), gold ``answer``
    and the reference ``solution``."""
    if miniature(cfg):
        items = world(cfg).benchmarks["math500"][:limit]
    else:
        items = _real_math500(cfg)
        items = items.select(range(min(limit, len(items)))) if limit is not None else items
    return [{"prompt": r["prompt"], "answer": r["answer"], "solution": r["solution"]} for r in items]


def score_models(models: dict[str, Path], cfg: Config, progress: bool = False, lm_eval_limit: int = 0,
                 retention: bool = True, general: bool = False):
    """``(vectors, items)`` of the final models on every benchmark: model -> {key: (num, den)}, and
    model -> per-item records (the miniature world's completions; ``None`` at paper scale, where
    lm-eval keeps its own logs). The miniature analogues are cached by content hash
    (:func:`scalpel_core.eval.analogues.evaluate_folder`); paper scale runs lm-evaluation-harness,
    whose logged samples give the same retention keys (:data:`scalpel_core.eval.lmeval.RETENTION`).
    ``retention=False``: accuracies only (no gold or held-out log-likelihoods; the freeze ablation).
    ``general``: the out-of-domain benchmarks only (knowledge and instructions; notebook 07's forgetting)."""
    if miniature(cfg):
        from .eval import analogues

        built = world(cfg)
        items = {}
        for i, (name, path) in enumerate(models.items(), 1):
            heartbeat.beat(f"benchmarks {i}/{len(models)}: {name}")
            items[name] = analogues.evaluate_folder(path, built.benchmarks, cfg, progress, heldout=built.heldout_docs,
                                                    retention=retention, general=general)
        return {name: analogues.item_vectors(it) for name, it in items.items()}, items
    from .eval import lmeval
    from .eval.scoring import GENERAL, GENERAL_RETENTION

    kept = [k for k in (GENERAL_RETENTION if general else lmeval.RETENTION) if k in lmeval.RETENTION] if retention else []
    vectors = {}
    for i, (name, path) in enumerate(models.items(), 1):
        heartbeat.beat(f"lm-eval {i}/{len(models)}: {name}")
        _, vectors[name] = lmeval.evaluate(path, GENERAL if general else None, max_gen_toks=cfg.max_new_tokens,
                                           batch_size=cfg.eval_batch_size, limit=lm_eval_limit or None,
                                           retention=kept)
    return vectors, None
