"""Training through TRL on the smoke world: checkpoints, manifest, resume, frozen weights, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from scalpel_core import checkpoints as ck
from scalpel_core import config
from scalpel_core.train import runs, trainer, trainlog
from scalpel_core.config import ConfigError


def _weights(path):
    return load_file(path / "model.safetensors")


def _final(run_dir):
    return _weights(run_dir / ck.step_name(json.loads((run_dir / ck.MANIFEST).read_text())["total_steps"]))


@pytest.fixture(scope="module")
def grpo_run(smoke_runs):
    """One finished smoke GRPO run, shared by the layout tests."""
    return smoke_runs / "smoke" / "grpo-s0"


# --- schedule and batch arithmetic -------------------------------------------------------------

def test_save_schedule_is_evenly_spaced_and_ends_at_the_last_step():
    paper = ck.save_schedule(571, 20)
    assert len(paper) == len(set(paper)) == 20 and paper[0] == 29 and paper[-1] == 571
    assert max(b - a for a, b in zip(paper, paper[1:])) - min(b - a for a, b in zip(paper, paper[1:])) <= 1
    assert ck.save_schedule(40, 20) == list(range(2, 41, 2))
    with pytest.raises(ValueError, match="cannot hold 20 distinct checkpoints"):
        ck.save_schedule(12, 20)


def test_batch_layout_keeps_problems_per_step_across_process_counts():
    grpo = config.load("tiny", method="grpo")
    assert trainer.batch_layout(grpo, 1) == (32, 4)  # 16 problems x 8 completions / 4 passes
    assert trainer.batch_layout(grpo, 2) == (16, 4)
    sft = config.load("tiny", method="sft1ep")
    assert trainer.batch_layout(sft, 1) == (4, 4)
    with pytest.raises(ConfigError, match="grad_accum_steps"):
        trainer.batch_layout(sft, 8)  # 16 sequences over 8 x 4 passes
    paper = config.load("paper", method="grpo")
    assert trainer.batch_layout(paper, 7) == (16, 4)  # open-r1: 16 completions per device, 7 GPUs


def test_same_problems_per_step_and_paper_learning_rates():
    runs_ = {m: config.load("tiny", method=m) for m in config.METHODS}
    steps = {m: trainer.total_steps(c, c.n_train_problems) for m, c in runs_.items()}
    assert steps["grpo"] == steps["sft1ep"] == 640 // 16 and steps["sft3ep"] == 3 * steps["grpo"]
    lrs = {m: trainer.learning_rate(c) for m, c in runs_.items()}
    assert lrs["grpo"] == lrs["sft1ep"] and lrs["sft3ep"] == pytest.approx(50 * lrs["grpo"])
    paper = config.load("paper")
    assert trainer.learning_rate(paper) == 1e-6
    assert trainer.total_steps(paper, paper.n_train_problems) == 571  # the paper's step count


def test_run_ids():
    assert runs.run_id(config.load("smoke")) == "grpo-s0"
    assert runs.run_id(config.load("smoke", method="sft3ep", trainable="attention", train_seed=3)) == \
        "sft3ep-attention-s3"


@pytest.mark.parametrize("key, value, match", [("method", "ppo", "valid: grpo, sft1ep, sft3ep"),
                                               ("trainable", "mlp", "valid: all, attention"),
                                               ("loss_type", "drgrpo", "did you mean 'dr_grpo'")])
def test_unknown_method_spec_or_loss_fails_at_config_time(key, value, match):
    with pytest.raises(ConfigError, match=match):
        config.load("smoke", **{key: value})


def test_grpo_config_mirrors_the_paper(tmp_path):
    cfg = config.load("paper", method="grpo")
    args = trainer.trl_config(cfg, tmp_path, 571, 8, False, {})
    assert (args.beta, args.epsilon, args.loss_type, args.scale_rewards) == (0.0, 0.2, "dr_grpo", "none")
    assert args.mask_truncated_completions and args.temperature == 0.6
    assert args.reward_weights == [1.0, 0.2] and args.num_generations == 28
    assert args.max_completion_length == 1500 and args.max_grad_norm == 0.2
    assert args.lr_scheduler_type == "constant_with_warmup" and args.get_warmup_steps(571) == 58
    sft = trainer.trl_config(config.load("paper", method="sft3ep", grad_accum_steps=2), tmp_path, 1713, 8, False, {})
    assert sft.completion_only_loss and sft.learning_rate == pytest.approx(5e-5) and sft.max_length == 4096


# --- a finished run ----------------------------------------------------------------------------

def test_run_has_base_plus_scheduled_checkpoints_and_a_manifest(grpo_run, smoke_base):
    cfg = config.load("smoke")
    manifest = ck.read_manifest(grpo_run)
    steps = [e["step"] for e in manifest["checkpoints"]]
    assert steps == [0] + ck.save_schedule(manifest["total_steps"], cfg.n_checkpoints)
    assert manifest["complete"] and manifest["config_hash"] == runs.config_hash(runs.run_config(cfg))
    assert [e["fraction"] for e in manifest["checkpoints"]] == [s / manifest["total_steps"] for s in steps]
    for entry in manifest["checkpoints"][1:]:
        assert {"loss", "reward", "rewards/accuracy_reward/mean", "entropy"} <= set(entry["metrics"])
    for entry in ck.list_checkpoints(grpo_run):
        ck.check_checkpoint(entry["path"])
    base, step0 = _weights(smoke_base), _weights(grpo_run / ck.step_name(0))
    assert all(torch.equal(base[k], step0[k]) for k in base)
    assert any(not torch.equal(base[k], v) for k, v in _final(grpo_run).items())


def test_checkpoints_load_as_causal_lms_with_the_chat_template(grpo_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = grpo_run / ck.step_name(4)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "olmo2"
    assert AutoTokenizer.from_pretrained(path).chat_template


def test_train_log_has_the_curves_the_notebook_plots(grpo_run):
    log = trainlog.train_log(grpo_run)
    assert list(log["step"]) == list(range(1, 9))
    for column in ("loss", "reward", "rewards/accuracy_reward/mean", "rewards/format_reward/mean",
                   "completions/mean_length", "entropy"):
        assert log[column].notna().all(), column


def test_finished_run_is_reused_without_training(grpo_run, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(grpo_run.parents[1]))
    monkeypatch.setattr(trainer, "_trainer", lambda *a, **k: pytest.fail("a finished run was retrained"))
    assert trainer.train(config.load("smoke", method="grpo"), progress=False) == grpo_run


# --- resume, frozen weights, bad input -----------------------------------------------------------

class _Killed(Exception):
    pass


class _Kill(TrainerCallback):
    """Simulates a process killed at the end of optimizer step ``step``, before any save of it."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise _Killed(f"killed after step {self.step}")


@pytest.mark.parametrize("method", ["grpo", "sft1ep"])
def test_killed_run_resumes_to_bit_identical_weights(artifacts, method):
    cfg = config.load("smoke", method=method)
    full = trainer.train(cfg, run="full", progress=False)
    with pytest.raises(_Killed):
        trainer.train(cfg, run="killed", progress=False, callbacks=[_Kill(5)])
    killed = artifacts / "smoke" / "killed"
    assert not ck.read_manifest(killed)["complete"]
    assert not (killed / ck.step_name(6)).exists()
    resumed = trainer.train(cfg, run="killed", progress=False)
    a, b = _final(full), _final(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert ck.read_manifest(resumed)["complete"]
    assert [e["step"] for e in ck.read_manifest(resumed)["checkpoints"]] == [0, 2, 4, 6, 8]
    losses = lambda d: [e["loss"] for e in json.loads((d / "train_log.json").read_text()) if "loss" in e]  # noqa: E731
    assert losses(full) == losses(resumed)


@pytest.mark.parametrize("spec, frozen", [
    ("attention", lambda n: not any(f".{k}_proj." in n for k in "qkvo")),
    ("frozen-mid-mlp", lambda n: "layers.1.mlp." in n),
])
def test_frozen_weights_are_bit_identical_after_training(artifacts, smoke_base, spec, frozen):
    run = trainer.train(config.load("smoke", method="sft3ep", trainable=spec), progress=False)
    base, final = _weights(smoke_base), _final(run)
    names = [n for n in base if frozen(n)]
    assert names
    assert all(torch.equal(base[n], final[n]) for n in names)
    assert all(not torch.equal(base[n], final[n]) for n in base if not frozen(n) and "norm" not in n)
    table = (run / "trainable.csv").read_text()
    assert "trainable_share" in table


def test_run_folder_with_another_config_is_refused_and_kept(artifacts):
    cfg = config.load("smoke", method="sft1ep")
    run = trainer.train(cfg, progress=False)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    with pytest.raises(runs.RunExistsError, match=r"learning_rate: 7e-05 there, 0.001 now.*--overwrite"):
        trainer.train(config.load("smoke", method="sft1ep", learning_rate=1e-3), progress=False)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    again = trainer.train(config.load("smoke", method="sft1ep", learning_rate=1e-3), overwrite=True,
                        progress=False)
    assert json.loads((again / runs.RUN_CONFIG).read_text())["learning_rate"] == 1e-3


def test_foreign_folder_is_refused(artifacts):
    target = artifacts / "smoke" / "sft1ep-s0"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunExistsError, match="not a run of this project"):
        trainer.train(config.load("smoke", method="sft1ep"), progress=False)
    assert (target / "notes.txt").read_text() == "mine"


class _Poison(TrainerCallback):
    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == 2:
            with torch.no_grad():
                model.model.layers[0].mlp.up_proj.weight.fill_(float("nan"))


def test_nan_loss_stops_the_run_and_names_the_step(artifacts):
    with pytest.raises(trainer.TrainingDivergedError, match=r"became nan at step 3 of 8"):
        trainer.train(config.load("smoke", method="sft1ep"), progress=False, callbacks=[_Poison()])
    manifest = ck.read_manifest(artifacts / "smoke" / "sft1ep-s0")
    assert [e["step"] for e in manifest["checkpoints"]] == [0, 2] and not manifest["complete"]


def test_corrupt_resume_state_is_named_and_nothing_is_deleted(artifacts):
    cfg = config.load("smoke", method="sft1ep")
    with pytest.raises(_Killed):
        trainer.train(cfg, progress=False, callbacks=[_Kill(5)])
    run = artifacts / "smoke" / "sft1ep-s0"
    weights = run / "trainer" / "checkpoint-4" / "model.safetensors"
    weights.unlink()  # a new, broken file (the published step-4 is a hard link to the old one)
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ck.CheckpointError, match=r"cannot resume: checkpoint weights .*checkpoint-4/model"
                                                  r"\.safetensors are corrupt.*--overwrite"):
        trainer.train(cfg, progress=False)
    ck.check_checkpoint(run / ck.step_name(4))
    assert [e["step"] for e in ck.read_manifest(run)["checkpoints"]] == [0, 2, 4]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_training_on_cuda(artifacts):
    """The paper-scale path: bf16 on a GPU (skipped on CPU-only machines such as CI)."""
    run = trainer.train(config.load("smoke", method="grpo", bf16=True), progress=False)
    final = _final(run)
    assert all(v.dtype == torch.bfloat16 for v in final.values())
    assert ck.read_manifest(run)["complete"]
