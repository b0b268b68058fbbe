"""Post-train a base model with GRPO or SFT (TRL), saving 20 evenly spaced checkpoints plus the base.

    scalpel train --preset tiny --method grpo             # or sft1ep, sft3ep; --trainable attention ...
    scalpel train --config recipes/paper/grpo.yaml        # a recipe (also under accelerate launch)

From Python or a notebook::

    from scalpel_core import config
    from scalpel_core.train import trainer
    run_dir = trainer.train(config.load("tiny", method="grpo"))

A finished run with the same config is reused; an interrupted one resumes from its last
checkpoint; a folder holding a different config is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

from transformers import PrinterCallback, TrainerCallback

from .. import checkpoints as ck
from .. import paths, worlds
from ..config import Config, ConfigError, ScalpelError
from ..data.hub import n_chat_tokens
from ..eval.rewards import REWARDS
from . import runs
from .freeze import apply_spec, parse_layers


class TrainingDivergedError(ScalpelError, RuntimeError):
    """The loss (or gradient norm) became NaN or infinite."""


def sequences_per_step(cfg: Config) -> int:
    """Sequences in one optimizer step, the same for both methods (the authors' per-device batch and
    accumulation): GRPO's are completions (``problems_per_step`` x ``num_generations``), SFT's are
    teacher conversations, one problem each (paper: 16 x 28 = 448)."""
    return cfg.problems_per_step * cfg.num_generations


def total_steps(cfg: Config, n_problems: int) -> int:
    """Optimizer steps of the run: ``train_steps`` for grpo (paper: 571), ``sft1ep_steps`` (0: the same)
    for sft1ep, and ``sft3ep_epochs`` passes over the ``n_problems`` conversations for sft3ep (paper: 3
    epochs)."""
    if cfg.method == "grpo":
        return cfg.train_steps
    if cfg.method == "sft1ep":
        return cfg.sft1ep_steps or cfg.train_steps
    per_epoch = n_problems // sequences_per_step(cfg)
    if per_epoch < 1:
        raise ConfigError(f"{n_problems} training problems make no full step of {sequences_per_step(cfg)} "
                          f"conversations (problems_per_step={cfg.problems_per_step} x "
                          f"num_generations={cfg.num_generations})")
    return per_epoch * cfg.sft3ep_epochs


def learning_rate(cfg: Config) -> float:
    """The run's learning rate: ``learning_rate``, x ``sft3ep_lr_factor`` for sft3ep, x ``lr_factor``."""
    return cfg.learning_rate * (cfg.sft3ep_lr_factor if cfg.method == "sft3ep" else 1.0) * cfg.lr_factor


def batch_layout(cfg: Config, world_size: int) -> tuple[int, int]:
    """(per-device batch, accumulation) giving :func:`sequences_per_step` sequences per optimizer step
    (TRL counts completions for GRPO, conversations for SFT)."""
    per_step = sequences_per_step(cfg)
    per_pass = world_size * cfg.grad_accum_steps
    if per_step % per_pass:
        unit = "completions" if cfg.method == "grpo" else "conversations"
        raise ConfigError(f"{per_step} {unit} per step do not split over {world_size} process(es) x "
                          f"grad_accum_steps={cfg.grad_accum_steps}; choose grad_accum_steps so that "
                          f"{world_size} x grad_accum_steps divides {per_step}")
    return per_step // per_pass, cfg.grad_accum_steps


def settings_table(cfg: Config):
    """The run's settings beside the paper's (paper/ORIGINAL.md, "Setup"), one row per setting."""
    import pandas as pd

    paper = {"grpo": ("1e-06", "571"), "sft1ep": ("1e-06", "571"), "sft3ep": ("5e-05", "3 epochs")}[cfg.method]
    n = cfg.n_train_problems or "all"
    unit = "completions" if cfg.method == "grpo" else "conversations"
    rows = [
        ("method", cfg.method, cfg.method),
        ("trainable", f"{cfg.trainable}" + (f" ({cfg.frozen_layers or 'middle third'})"
                                          if cfg.trainable == "frozen-mid-mlp" else ""), "all / ablations"),
        ("training problems", n, "~91k cn_k12 (sft3ep: those within 4096 tokens)"),
        (f"{unit} per step", sequences_per_step(cfg), "448 (16 per device x 4 accumulation x 7 GPUs)"),
        ("optimizer steps", total_steps(cfg, cfg.n_train_problems) if cfg.n_train_problems or cfg.method != "sft3ep"
         else f"{cfg.sft3ep_epochs} epochs", paper[1]),
        ("learning rate", f"{learning_rate(cfg):.2g}", paper[0]),
        ("schedule", f"constant, {cfg.warmup_ratio:.0%} warm-up", "constant, 10% warm-up"),
        ("max_grad_norm", cfg.max_grad_norm, "0.2"),
        ("precision", "bf16 autocast, float32 master weights" if cfg.bf16 else "float32",
         "bf16, float32 master weights (DeepSpeed)"),
        ("seed", cfg.train_seed, "42"),
        ("checkpoints", f"{cfg.n_checkpoints} + base", "20 + base"),
    ]
    if cfg.method == "grpo":
        rows += [
            ("problems per step", cfg.problems_per_step, "16"),
            ("completions per problem", cfg.num_generations, "28"),
            ("max prompt / completion tokens", f"{cfg.max_prompt_length} / {cfg.max_completion_length}", "512 / 1500"),
            ("temperature", cfg.temperature, "0.6"),
            ("beta (KL penalty) / epsilon", f"{cfg.beta} / {cfg.epsilon}", "0 / 0.2"),
            ("loss / reward scaling", f"{cfg.loss_type} / {'group std' if cfg.scale_rewards else 'none'}",
             "dr_grpo / none"),
            ("rewards", f"accuracy x {cfg.accuracy_weight} + format x {cfg.format_weight} "
             f"({GRADERS[cfg.reward_style]} graders)", "accuracy x 1.0 + format x 0.2 (authors' graders)"),
        ]
    else:
        rows += [("loss on", "the whole conversation" if cfg.sft_loss == "conversation" else
                  "the teacher trace (completion) only", "the whole conversation (`messages`)")]
    return pd.DataFrame(rows, columns=["setting", "this run", "paper"]).astype(str).set_index("setting")


GRADERS = {"ours": "our", "authors": "authors'"}  # reward_style as the settings table names it


def training_data(cfg: Config, tokenizer):
    """The post-training problems of the run (:func:`scalpel_core.worlds.training_set`): ``prompt``
    (chat), ``answer`` and ``solution`` (gold, for GRPO's accuracy reward) and, for SFT,
    ``completion`` (the teacher trace). GRPO prompts above ``max_prompt_length`` tokens are dropped."""
    ds = worlds.training_set(cfg, tokenizer)
    if cfg.method == "grpo":
        ds = ds.remove_columns("completion")  # GRPO samples its own

        ds = ds.filter(lambda p: n_chat_tokens(tokenizer, p, add_generation_prompt=True) <= cfg.max_prompt_length,
                       input_columns="prompt")
    return ds


def trl_config(cfg: Config, output_dir: Path, steps: int, world_size: int, progress: bool, trl_args: dict):
    """The TRL ``GRPOConfig`` / ``SFTConfig`` of a run, every value mapped from ``cfg``."""
    import torch
    from trl import GRPOConfig, SFTConfig

    per_device, accum = batch_layout(cfg, world_size)
    common = dict(
        output_dir=str(output_dir),
        seed=cfg.train_seed,
        learning_rate=learning_rate(cfg),
        lr_scheduler_type="constant_with_warmup",  # paper: constant LR after warm-up
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a fraction of the run (paper: 10%)
        max_grad_norm=cfg.max_grad_norm,
        optim="adamw_torch",
        max_steps=steps,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum,
        activation_checkpointing=cfg.gradient_checkpointing,  # (transformers 5 name)
        bf16=cfg.bf16,
        use_cpu=not torch.cuda.is_available(),
        logging_steps=1,
        logging_nan_inf_filter=False,  # a NaN loss must reach the guard, not be averaged away
        save_strategy="no",  # saves are scheduled by CheckpointSchedule (exactly n_checkpoints)
        save_total_limit=1,  # keep only the latest full trainer state (for resuming)
        report_to="none",
        disable_tqdm=not progress,
    )
    if cfg.method == "grpo":
        args = dict(
            common,
            num_generations=cfg.num_generations,
            # the step's completions over all processes, sampled at once (TRL's default on the
            # launch's processes; explicit, so a config built on one process says the same)
            generation_batch_size=sequences_per_step(cfg),
            max_completion_length=cfg.max_completion_length,
            temperature=cfg.temperature,
            beta=cfg.beta,
            epsilon=cfg.epsilon,
            loss_type=cfg.loss_type,
            scale_rewards="group" if cfg.scale_rewards else "none",
            mask_truncated_completions=True,  # paper: truncated completions do not count
            reward_weights=[cfg.accuracy_weight, cfg.format_weight],
            shuffle_dataset=True,  # paper: the 91k set shuffled, seeded by `seed`
            vllm_importance_sampling_correction=cfg.vllm_importance_sampling,  # paper: none (only used with vLLM)
        )
        config_cls = GRPOConfig
    else:
        args = dict(
            common,
            max_length=worlds.sft_max_length(cfg),
            completion_only_loss=cfg.sft_loss == "completion",  # paper, as run: False (whole conversation)
        )
        if cfg.method == "sft3ep":
            args["num_train_epochs"] = cfg.sft3ep_epochs  # documentation: max_steps (3 epochs' steps) rules
        config_cls = SFTConfig
    args.update(trl_args)
    try:
        return config_cls(**args)
    except TypeError as err:
        raise ConfigError(f"a recipe's trl_args key is not a {config_cls.__name__} field ({err})") from err


class CheckpointSchedule(TrainerCallback):
    """Save exactly at the scheduled steps, publish ``step-N/`` and keep the manifest current."""

    def __init__(self, run_dir: Path, schedule: list[int], manifest: dict, dtype: str | None = None):
        self.run_dir, self.schedule, self.manifest, self.dtype = Path(run_dir), set(schedule), manifest, dtype

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.schedule:
            control.should_save = True
        return control

    def on_train_begin(self, args, state, control, **kwargs):
        # A crash between the trainer's save and our export leaves a checkpoint unpublished.
        if state.is_world_process_zero:
            for path in sorted(Path(args.output_dir).glob("checkpoint-*")):
                step = int(path.name.split("-")[1])
                if step in self.schedule and not (self.run_dir / ck.step_name(step)).is_dir():
                    self._publish(path, step, state)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            src = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self._publish(src, state.global_step, state)

    def _publish(self, src: Path, step: int, state) -> None:
        ck.export_step(src, self.run_dir, step, self.dtype)
        logs = [e for e in state.log_history if e.get("step") == step and "loss" in e]
        entry = {"step": step, "fraction": step / state.max_steps, "path": ck.step_name(step),
                 "metrics": {k: v for k, v in (logs[-1] if logs else {}).items() if isinstance(v, (int, float))}}
        self.manifest["checkpoints"] = [e for e in self.manifest["checkpoints"] if e["step"] != step] + [entry]
        self.manifest["checkpoints"].sort(key=lambda e: e["step"])
        ck.write_json(self.run_dir / ck.MANIFEST, self.manifest)
        ck.write_json(self.run_dir / "train_log.json", state.log_history)


class NanGuard(TrainerCallback):
    """Stop the run at the first non-finite loss or gradient norm, naming the step."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                raise TrainingDivergedError(
                    f"{key} became {value} at step {state.global_step} of {state.max_steps}. The run "
                    f"stopped; checkpoints before this step are kept in {Path(args.output_dir).parent}. "
                    "Lower learning_rate (the paper saw GRPO diverge at 1e-5 on the 7B model).")


def _load_policy(cfg: Config, source: str):
    """The policy in float32 whatever ``cfg.bf16`` says: with bf16 the trainer autocasts the forward
    and backward, and the optimizer updates these float32 master weights (as the HF Trainer does for
    a float32 model, and DeepSpeed did for the paper). Loaded in bf16, most updates at the paper's
    learning rate of 1e-6 would fall below bf16's resolution and be lost."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = worlds.training_tokenizer(cfg, AutoTokenizer.from_pretrained(source))
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tokenizer


def _publish_base(model, tokenizer, source: str, run_dir: Path, dtype: str | None) -> None:
    if Path(source).is_dir() and any(Path(source).glob("*.safetensors")):
        ck.export_step(Path(source), run_dir, 0, dtype)
    else:  # a hub id: write the base once, in the run's own layout
        tmp = run_dir / "base.partial"
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        ck.export_step(tmp, run_dir, 0, dtype)
        shutil.rmtree(tmp)


def check_inputs(cfg: Config, directory: Path) -> None:
    """What a run needs, checked before any slow work (building the base, loading the model, data):
    a writable run folder, a well-formed ``frozen_layers`` and, in the real world, a base model and
    training set that are there (:func:`scalpel_core.worlds.check_sources`)."""
    paths.check_writable(directory, "run folder", folder=True)
    if cfg.trainable == "frozen-mid-mlp" and cfg.frozen_layers:  # the range is checked again on the model
        parse_layers(cfg.frozen_layers, cfg.n_layers if worlds.miniature(cfg) else 10**6)
    worlds.check_sources(cfg)


def train(cfg: Config, run: str | None = None, overwrite: bool = False, trl_args: dict | None = None,
          callbacks: list | None = None, progress: bool = True) -> Path:
    """Train the run of ``cfg`` (or reuse / resume it) and return its folder.

    ``run`` overrides the run id; ``trl_args`` are extra TRL config fields (recipes);
    ``callbacks`` are extra ``TrainerCallback`` objects.
    """
    from accelerate import PartialState

    # TRL asks transformers for `is_gradient_checkpointing`, renamed in transformers 5: not ours to fix
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    state = PartialState()
    trl_args = dict(trl_args or {})
    config = runs.run_config(cfg, trl_args)
    directory = runs.run_dir(cfg, run)
    check_inputs(cfg, directory)
    with state.main_process_first():
        status = runs.prepare(directory, config, overwrite=overwrite and state.is_main_process)
        source = worlds.base_source(cfg)
    if status == "done":
        return directory

    model, tokenizer = _load_policy(cfg, source)
    published_dtype = "bfloat16" if cfg.bf16 else None  # step folders in bf16, as the paper's were
    table = apply_spec(model, cfg.trainable, cfg.frozen_layers)
    dataset = training_data(cfg, tokenizer)
    steps = total_steps(cfg, len(dataset))
    schedule = ck.save_schedule(steps, cfg.n_checkpoints)
    args = trl_config(cfg, directory / "trainer", steps, state.num_processes, progress, trl_args)

    manifest = {"run_id": directory.name, "preset": cfg.preset, "method": cfg.method,
                "trainable": cfg.trainable, "config_hash": runs.config_hash(config), "base": source,
                "total_steps": steps, "schedule": schedule, "complete": False, "checkpoints": []}
    if status == "resume" and (directory / ck.MANIFEST).is_file():
        manifest = ck.read_manifest(directory) | {"complete": False}
    if state.is_main_process:
        table.to_csv(directory / "trainable.csv")
        if not (directory / ck.step_name(0)).is_dir():
            _publish_base(model, tokenizer, source, directory, published_dtype)
        manifest["checkpoints"] = [e for e in manifest["checkpoints"] if e["step"] != 0]
        manifest["checkpoints"].insert(0, {"step": 0, "fraction": 0.0, "path": ck.step_name(0), "metrics": {}})
        ck.write_json(directory / ck.MANIFEST, manifest)
    state.wait_for_everyone()

    extra = [CheckpointSchedule(directory, schedule, manifest, published_dtype), NanGuard(), *(callbacks or [])]
    trainer = _trainer(cfg, model, tokenizer, dataset, args, extra)
    if not progress:  # batch runs (papermill): no per-step log dicts printed either
        trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=_last_trainer_checkpoint(args.output_dir))
    if state.is_main_process:
        manifest["complete"] = len(manifest["checkpoints"]) == len(schedule) + 1
        ck.write_json(directory / ck.MANIFEST, manifest)
        ck.write_json(directory / "train_log.json", trainer.state.log_history)
    state.wait_for_everyone()
    return directory


def _trainer(cfg: Config, model, tokenizer, dataset, args, callbacks):
    from trl import SFTTrainer

    if cfg.method == "grpo":
        from .rollouts import GRPOTrainer

        return GRPOTrainer(model=model, reward_funcs=list(REWARDS[cfg.reward_style]), args=args,
                           train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks,
                           rollouts=cfg.rollouts)
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                      callbacks=callbacks)


def _last_trainer_checkpoint(output_dir: str) -> str | None:
    """The newest complete trainer checkpoint (``trainer_state.json`` is written last), if any,
    after checking that its weights are readable."""
    done = [p for p in Path(output_dir).glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    if not done:
        return None
    last = max(done, key=lambda p: int(p.name.split("-")[1]))
    try:
        ck.check_checkpoint(last)
    except ck.CheckpointError as err:
        raise ck.CheckpointError(
            f"cannot resume: {err}. The published checkpoints (step-*/) are untouched; to train again "
            f"from the base, pass overwrite=True (scalpel train --overwrite), which deletes {Path(output_dir).parent}"
        ) from err
    return str(last)
