"""The teacher probe of the calibration (world v3): how far can SFT on the teacher's traces take the base?

    from scalpel_core.train import probe
    folder = probe.train_probe(cfg, world)   # cached: artifacts/{preset}/calibration/{base_hash}/probe/

A copy of the base is fine-tuned with TRL's SFTTrainer (loss on the trace only) on ``probe_problems``
fresh teacher traces, none of them a benchmark, dev or post-training problem, until the loss on
``probe_heldout`` held-out traces stops improving (transformers' EarlyStoppingCallback, checked every
``probe_eval_every`` steps). The best model is kept. It is not one of the study's runs: it measures
the teacher's ceiling on the dev split before any run exists (tests/test_calibration.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import paths
from ..config import Config

META = "probe_meta.json"
PATIENCE = 3  # evaluations without an improvement of at least THRESHOLD before the probe stops
THRESHOLD = 0.002  # nats per trace token: a smaller fall of the held-out loss counts as a plateau
BATCH = 32  # traces per optimizer step


def probe_dir(cfg: Config) -> Path:
    return paths.artifacts_dir() / cfg.preset / "calibration" / cfg.base_hash / "probe"


def settings(cfg: Config) -> dict:
    """What identifies a probe: the base, the set sizes, the schedule and the stopping rule."""
    return {"base_hash": cfg.base_hash, "problems": cfg.probe_problems, "heldout": cfg.probe_heldout,
            "max_steps": cfg.probe_max_steps, "eval_every": cfg.probe_eval_every, "lr": probe_lr(cfg),
            "batch": BATCH, "patience": PATIENCE, "threshold": THRESHOLD}


def probe_lr(cfg: Config) -> float:
    """The SFT-3ep learning rate of the study (its highest SFT rate; no tuning of the probe)."""
    return cfg.learning_rate * cfg.sft3ep_lr_factor


def _rows(problems: list[dict]) -> list[dict]:
    return [{"prompt": p["prompt"], "completion": [{"role": "assistant", "content": p["teacher_solution"]}]}
            for p in problems]


def train_probe(cfg: Config, world, base_path: Path, progress: bool = True) -> Path:
    """The probe's folder (HF layout, with :data:`META`), trained first if not cached for ``settings``."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, EarlyStoppingCallback, Olmo2ForCausalLM
    from trl import SFTConfig, SFTTrainer

    out = probe_dir(cfg)
    want = settings(cfg)
    if (out / META).is_file() and json.loads((out / META).read_text()).get("settings") == want:
        return out
    fresh = world.fresh_problems(cfg.probe_problems + cfg.probe_heldout)
    train, held = _rows(fresh[: cfg.probe_problems]), _rows(fresh[cfg.probe_problems:])
    work = out.with_name("probe.partial")
    shutil.rmtree(work, ignore_errors=True)
    torch.manual_seed(cfg.seed)
    model = Olmo2ForCausalLM.from_pretrained(base_path)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    args = SFTConfig(
        output_dir=str(work / "trainer"), seed=cfg.seed, learning_rate=probe_lr(cfg),
        lr_scheduler_type="constant_with_warmup", warmup_steps=0.05, max_grad_norm=cfg.max_grad_norm,
        max_steps=cfg.probe_max_steps, per_device_train_batch_size=BATCH, per_device_eval_batch_size=64,
        eval_strategy="steps", eval_steps=cfg.probe_eval_every, save_strategy="steps",
        save_steps=cfg.probe_eval_every, save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model="eval_loss", greater_is_better=False, completion_only_loss=True,
        max_length=cfg.max_seq_len, use_cpu=not torch.cuda.is_available(), logging_steps=cfg.probe_eval_every,
        report_to="none", disable_tqdm=not progress,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(train),
                         eval_dataset=Dataset.from_list(held), processing_class=tokenizer,
                         callbacks=[EarlyStoppingCallback(PATIENCE, THRESHOLD)])
    trainer.train()
    curve = [{"step": e["step"], "eval_loss": e["eval_loss"]} for e in trainer.state.log_history if "eval_loss" in e]
    trainer.model.save_pretrained(work)
    tokenizer.save_pretrained(work)
    shutil.rmtree(work / "trainer", ignore_errors=True)
    best = min(curve, key=lambda e: e["eval_loss"]) if curve else {"step": trainer.state.global_step, "eval_loss": None}
    meta = {"settings": want, "steps": trainer.state.global_step, "best_step": best["step"],
            "best_eval_loss": best["eval_loss"], "curve": curve,
            "plateaued": trainer.state.global_step < cfg.probe_max_steps}
    (work / META).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return out
