"""Recipes and the `scalpel train` entry point, including a 2-process CPU DDP run under accelerate."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from scalpel_core import checkpoints as ck
from scalpel_core import paths
from scalpel_core.train import trainer
from scalpel_core.cli import main
from scalpel_core.config import ConfigError
from scalpel_core.train.recipes import load_recipe

RECIPES = sorted((paths.REPO_ROOT / "recipes").glob("*/*.yaml"))
TRAINING = [r for r in RECIPES if r.parent.name != "accelerate"]
# every training recipe as written, and each SFT recipe switched to sft3ep from the command line
CASES = [(r, None) for r in TRAINING] + [(r, "sft3ep") for r in TRAINING if "sft" in r.name]


def test_recipes_exist_for_paper_and_one_gpu():
    names = {f"{r.parent.name}/{r.name}" for r in RECIPES}
    assert {"paper/grpo.yaml", "paper/sft.yaml", "gpu-small/grpo.yaml", "gpu-small/sft.yaml",
            "accelerate/ddp.yaml", "accelerate/zero3.yaml"} <= names


@pytest.mark.parametrize("recipe, method", CASES, ids=lambda v: f"{v.parent.name}/{v.name}" if hasattr(v, "parent") else str(v))
def test_training_recipes_build_their_trl_config(recipe, method, tmp_path):
    cfg, trl_args = load_recipe(recipe, method=method)
    assert cfg.preset == recipe.parent.name and cfg.world == "real"
    gpus = 7 if cfg.preset == "paper" else 1  # the authors' 7 training processes
    args = trainer.trl_config(cfg, tmp_path, 571, gpus, False, trl_args)
    assert args.learning_rate == pytest.approx(1e-6 * (50 if cfg.method == "sft3ep" else 1))
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (16, 4)  # both methods
    assert args.seed == 42 and (cfg.method == "grpo" or not args.completion_only_loss)
    if cfg.method == "grpo":
        assert args.use_vllm and args.num_generations == (28 if cfg.preset == "paper" else 16)


def test_accelerate_configs():
    ddp = yaml.safe_load((paths.REPO_ROOT / "recipes/accelerate/ddp.yaml").read_text())
    zero3 = yaml.safe_load((paths.REPO_ROOT / "recipes/accelerate/zero3.yaml").read_text())
    assert ddp["distributed_type"] == "MULTI_GPU" and ddp["num_processes"] == 8
    assert zero3["distributed_type"] == "DEEPSPEED" and zero3["deepspeed_config"]["zero_stage"] == 3


def test_unknown_recipe_key_is_named_with_a_suggestion(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("preset: smoke\nmethod: grpo\nlearning_rat: 1e-5\n")
    with pytest.raises(ConfigError, match=r"'learning_rat': did you mean 'learning_rate'"):
        load_recipe(recipe)
    recipe.write_text("preset: smoke\nmethod: sft1ep\nuse_vllm: true\n")  # a GRPO-only TRL field
    with pytest.raises(ConfigError, match="SFTConfig"):
        load_recipe(recipe)
    recipe.write_text("method: grpo\n")
    with pytest.raises(ConfigError, match="'preset' key"):
        load_recipe(recipe)
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")


def test_cli_trains_and_prints_the_run_folder(artifacts, capsys):
    assert main(["train", "--preset", "smoke", "--method", "sft1ep"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out == str(artifacts / "smoke" / "sft1ep-s0")
    assert ck.read_manifest(artifacts / "smoke" / "sft1ep-s0")["complete"]


def test_cli_bad_input_exits_2_with_the_reason(artifacts, capsys):
    assert main(["train", "--preset", "smoke", "--method", "ppo"]) == 2
    assert "unknown method 'ppo'" in capsys.readouterr().err
    assert main(["train", "--preset", "smoke", "--trainable", "qk", "--method", "sft1ep",
                 "--frozen-layers", "0-9"]) == 0  # frozen_layers only matters for frozen-mid-mlp
    assert main(["train", "--preset", "smoke", "--trainable", "frozen-mid-mlp", "--method", "sft1ep",
                 "--frozen-layers", "0-9"]) == 2
    assert "outside the model's layers 0-1" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_cpu_ddp_run_trains_and_checkpoints(artifacts, tmp_path):
    recipe = tmp_path / "smoke-grpo.yaml"
    recipe.write_text("preset: smoke\nmethod: grpo\n")
    env = dict(os.environ, SCALPEL_ARTIFACTS=str(artifacts), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "scalpel_core.cli", "train", "--config", str(recipe)],
        env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = artifacts / "smoke" / "grpo-s0"
    assert out.stdout.strip().splitlines()[-1] == str(run)
    assert out.stdout.count(str(run)) == 1  # printed by the main process only
    manifest = ck.read_manifest(run)
    assert manifest["complete"] and [e["step"] for e in manifest["checkpoints"]] == [0, 2, 4, 6, 8]
    for entry in ck.list_checkpoints(run):
        ck.check_checkpoint(entry["path"])
    log = json.loads((run / "train_log.json").read_text())
    assert sum("loss" in e for e in log) == 8


def test_shipped_recipe_paths_work_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg, trl_args = load_recipe("recipes/paper/grpo.yaml")
    assert cfg.preset == "paper" and trl_args["use_vllm"] is True
