"""Every `scalpel` subcommand answers foreseeable bad input with one line on stderr that names what
was wrong and what would be right, exit code 2 and no traceback, before any slow work.

One row per (subcommand, bad input). Every row failed before these checks were added (a traceback,
several lines, exit code 1, or a line that did not say what to do): tests/cli_errors_before.py runs
the table against another source tree, e.g. the commit before them (0f8630e). The CLI runs as a subprocess, offline (HF_HUB_OFFLINE=1), with its
artifacts, figures and repository home in temporary folders, so nothing in the repository is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scalpel_core import paths

pytestmark = pytest.mark.slow  # ~35 processes, each importing the CLI (and some transformers)

HUB_MODEL = "allenai/OLMo-2-0425-1B-Instruct"  # never cached here; the hub is offline in these tests
UNREACHABLE = "not found locally and the hub is unreachable"

# (id, argv, environment overrides, what the one line must say: a text or a tuple of texts). Placeholders in {braces} are the
# fixture paths of `where` below; "{afile}" is a regular file, so a path under it cannot be written.
CASES = [
    # base: where the pretrained base would be written
    ("base-artifacts-unwritable", "base --preset smoke", {"SCALPEL_ARTIFACTS": "{afile}/artifacts"},
     "artifacts folder (SCALPEL_ARTIFACTS)"),
    # train: broken recipes, bad arguments, a missing or foreign base model, an unwritable run folder
    ("train-recipe-invalid-yaml", "train --config {recipe_bad_yaml}", {}, "is not valid YAML"),
    ("train-recipe-not-text", "train --config {recipe_binary}", {}, "cannot be read as YAML text"),
    ("train-recipe-wrong-trl-type", "train --config {recipe_trl_type}", {},
     "'num_train_epochs' must be float, got str 'abc'"),
    ("train-frozen-layers-malformed", "train --preset smoke --trainable frozen-mid-mlp --frozen-layers x-y", {},
     "frozen_layers must look like 'first-last'"),
    ("train-hub-base-offline", "train --preset gpu-small", {},
     (f"base_model {HUB_MODEL} is {UNREACHABLE}", "pass a local path")),
    ("train-base-without-tokenizer", "train --config {recipe_no_tokenizer}", {}, "has no tokenizer"),
    ("train-data-missing", "train --config {recipe_missing_data}", {}, "missing.parquet does not exist"),
    ("train-run-folder-unwritable", "train --preset smoke", {"SCALPEL_ARTIFACTS": "{afile}/artifacts"},
     "run folder"),
    # weights: hub without network, unwritable outputs
    ("weights-hub-offline", f"weights {HUB_MODEL} {{model}} --out {{tmp}}/w.csv", {}, (UNREACHABLE, "pass a local path")),
    ("weights-out-under-a-file", "weights {model} {model} --out {afile}/w.csv", {}, "--out {afile}/w.csv cannot be written"),
    ("weights-out-is-a-folder", "weights {model} {model} --out {folder_csv}", {}, "it is a folder; name a file"),
    ("weights-cache-unwritable", "weights {model} {model} --out {tmp}/w.csv", {"SCALPEL_ARTIFACTS": "{afile}/a"},
     "cache folder (SCALPEL_ARTIFACTS; or pass --no-cache)"),
    # kl: the default --data offline, model folders without tokenizer, template or config, foreign or corrupt
    # models, data files without the columns, missing or corrupt, unwritable output
    ("kl-default-data-offline", "kl {model} {model} --out {tmp}/k.csv", {},
     (f"--data: data set HuggingFaceH4/MATH-500 is {UNREACHABLE}", "pass a local path")),
    ("kl-hub-base-offline", f"kl {HUB_MODEL} {{model}} --data {{math500}} --out {{tmp}}/k.csv", {},
     (UNREACHABLE, "pass a local path")),
    ("kl-base-without-tokenizer", "kl {no_tokenizer} {model} --data {math500} --out {tmp}/k.csv", {},
     "has no tokenizer"),
    ("kl-base-without-chat-template", "kl {no_chat} {model} --data {math500} --out {tmp}/k.csv", {},
     "has no chat template"),
    ("kl-corrupt-config", "kl {bad_config} {model} --data {math500} --out {tmp}/k.csv", {}, "config.json is corrupt"),
    ("kl-foreign-model", "kl {foreign} {model} --data {math500} --out {tmp}/k.csv", {},
     "is a 'vit' model, which is not a causal language model"),
    ("kl-corrupt-weights", "kl {model} {corrupt} --data {math500} --out {tmp}/k.csv", {}, "are corrupt"),
    ("kl-empty-folder", "kl {model} {empty} --data {math500} --out {tmp}/k.csv", {}, "has no config.json"),
    ("kl-data-missing-columns", "kl {model} {model} --data {no_columns} --out {tmp}/k.csv", {},
     "lacks column(s) ['problem', 'solution', 'answer']"),
    ("kl-data-file-missing", "kl {model} {model} --data {tmp}/missing.jsonl --out {tmp}/k.csv", {},
     "missing.jsonl does not exist"),
    ("kl-data-corrupt", "kl {model} {model} --data {corrupt_jsonl} --out {tmp}/k.csv", {}, "cannot read"),
    ("kl-out-under-a-file", "kl {model} {model} --data {math500} --out {afile}/k.csv", {}, "cannot be written"),
    # passk: the numbers, the output, the data, the engine and the models, before any sampling
    ("passk-n-zero", "passk {model} {model2} --data {math500} --n 0 --out {tmp}/p.csv", {}, "--n (got 0)"),
    ("passk-top-p-out-of-range", "passk {model} {model2} --data {math500} --top-p 1.5 --out {tmp}/p.csv", {},
     "--top-p in (0, 1] (got 1.5)"),
    ("passk-out-extension", "passk {model} {model2} --data {math500} --out {tmp}/p.txt", {},
     "the extension must be .csv or .parquet"),
    ("passk-data-missing-columns", "passk {model} {model2} --data {no_columns} --out {tmp}/p.csv", {},
     "lacks column(s) ['problem', 'solution', 'answer']"),
    ("passk-vllm-not-installed", "passk {model} {model2} --data {math500} --engine vllm --out {tmp}/p.csv", {},
     "--engine vllm needs vLLM installed and a CUDA GPU"),
    ("passk-base-without-chat-template", "passk {no_chat} {model} --data {math500} --out {tmp}/p.csv", {},
     "has no chat template"),
    ("passk-only-the-base", "passk {model} {model} --data {math500} --out {tmp}/p.csv", {},
     "give at least one checkpoint other than the base"),
    ("train-lr-factor-not-positive", "train --preset smoke --lr-factor 0", {}, "'lr_factor' must be > 0"),
    # reproduce: broken plan files, an unknown kernel, unwritable figures (checked before the base is built)
    # report: models, data, output folder and kernel checked before the notebook runs
    ("report-hub-base-offline", f"report {HUB_MODEL} {{model}} --out {{tmp}}/r", {}, (UNREACHABLE, "pass a local path")),
    ("report-empty-folder", "report {model} {empty} --out {tmp}/r", {}, "is neither a run folder"),
    ("report-out-under-a-file", "report {model} {model} --out {afile}/r", {}, "cannot be written"),
    ("report-data-file-missing", "report {model} {model} --data {tmp}/missing.jsonl --out {tmp}/r", {},
     "missing.jsonl does not exist"),
    ("report-unknown-kernel", "report {model} {model} --out {tmp}/r --kernel no-such-kernel", {},
     "no Jupyter kernel named 'no-such-kernel'"),
    ("reproduce-plan-invalid-yaml", "reproduce --preset smoke --plan {recipe_bad_yaml}", {}, "is not valid YAML"),
    ("reproduce-plan-not-text", "reproduce --preset smoke --plan {recipe_binary}", {}, "cannot be read as YAML text"),
    ("reproduce-plan-is-a-folder", "reproduce --preset smoke --plan {tmp}", {}, "IsADirectoryError"),
    ("reproduce-unknown-kernel", "reproduce --preset smoke --plan {plan} --kernel no-such-kernel", {},
     "no Jupyter kernel named 'no-such-kernel'"),
    ("reproduce-figures-unwritable", "reproduce --preset smoke --plan {plan}", {"SCALPEL_FIGURES": "{afile}/figures"},
     "figures folder (SCALPEL_FIGURES)"),
    # calibrate: a candidate setting that is not KEY=VALUE, or not a config key
    ("calibrate-set-malformed", "calibrate --preset smoke --no-probe --set pretrain_steps", {}, "must be KEY=VALUE"),
    ("calibrate-set-unknown-key", "calibrate --preset smoke --no-probe --set pretrain_step=3", {},
     ("unknown config key 'pretrain_step'", "did you mean 'pretrain_steps'")),
    # paper: numbers.json corrupt or incomplete, the figure manifest corrupt
    ("paper-numbers-corrupt", "paper --preset smoke", {"SCALPEL_FIGURES": "{figures_corrupt}"}, "numbers.json is corrupt"),
    ("paper-numbers-incomplete", "paper --preset smoke", {"SCALPEL_FIGURES": "{figures_incomplete}"},
     "lacks a number the paper needs"),
    ("paper-manifest-corrupt", "paper --preset smoke", {"SCALPEL_FIGURES": "{figures_bad_manifest}"},
     "manifest.json is corrupt"),
]
SUBCOMMANDS = ("base", "train", "weights", "kl", "passk", "report", "reproduce", "paper", "calibrate")


def test_every_subcommand_has_cases():
    assert {argv.split()[0] for _, argv, _, _ in CASES} == set(SUBCOMMANDS)
    assert len({case[0] for case in CASES}) == len(CASES)


def _model_variants(root: Path, model: Path) -> dict:
    """Model folders, each broken in one way, built from the good one."""
    out = {}

    def variant(name, keep):
        d = root / name
        d.mkdir()
        for f in model.iterdir():
            if keep(f.name):
                shutil.copy(f, d / f.name)
        out[name] = d
        return d

    variant("no_tokenizer", lambda n: n in ("config.json", "model.safetensors"))
    no_chat = variant("no_chat", lambda n: n != "chat_template.jinja")
    tok_config = json.loads((no_chat / "tokenizer_config.json").read_text())
    tok_config.pop("chat_template", None)
    (no_chat / "tokenizer_config.json").write_text(json.dumps(tok_config))
    (variant("bad_config", lambda n: True) / "config.json").write_text("{not json")
    corrupt = variant("corrupt", lambda n: True)
    (corrupt / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes()[:100])
    foreign = variant("foreign", lambda n: n != "model.safetensors")
    (foreign / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 8}))
    from safetensors.torch import save_file
    import torch

    save_file({"vit.embeddings.cls_token": torch.zeros(1, 1, 8)}, str(foreign / "model.safetensors"))
    variant("empty", lambda n: False)
    return out


def build_paths(root: Path, random_model, tokenizer) -> dict:
    """Every path the cases name, under ``root``, from a random model and its tokenizer."""
    model = root / "model"
    random_model.save_pretrained(model)
    tokenizer.save_pretrained(model)
    w = {"tmp": root, "model": model, **_model_variants(root, model)}
    w["model2"] = Path(shutil.copytree(model, root / "model2"))  # a second, identical model (pass@k's checkpoint)
    (root / "afile").write_text("a regular file\n")
    w["afile"] = root / "afile"
    (root / "folder.csv").mkdir()
    w["folder_csv"] = root / "folder.csv"
    rows = [{"problem": f"What is {i}+1?", "solution": f"It is {i + 1}.", "answer": str(i + 1)} for i in range(3)]
    (root / "math500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "no_columns.jsonl").write_text(json.dumps({"question": "1+1?"}) + "\n")
    (root / "corrupt.jsonl").write_text('{"problem": "1+1?", "solution": \n')
    w |= {"math500": root / "math500.jsonl", "no_columns": root / "no_columns.jsonl",
          "corrupt_jsonl": root / "corrupt.jsonl"}
    # recipes and plans
    (root / "bad.yaml").write_text("preset: smoke\nlearning_rate: [\n")
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00preset")
    (root / "trl_type.yaml").write_text("preset: smoke\nnum_train_epochs: abc\n")
    (root / "no_tokenizer.yaml").write_text(f"preset: gpu-small\nbase_model: {w['no_tokenizer']}\n")
    (root / "missing_data.yaml").write_text(f"preset: gpu-small\nbase_model: {model}\n"
                                            f"train_dataset: {root / 'missing.parquet'}\n")
    w |= {"recipe_bad_yaml": root / "bad.yaml", "recipe_binary": root / "binary.yaml",
          "recipe_trl_type": root / "trl_type.yaml", "recipe_no_tokenizer": root / "no_tokenizer.yaml",
          "recipe_missing_data": root / "missing_data.yaml"}
    # a repository home of its own (notebooks, plan, paper template): what reproduce and paper write stays here
    home = root / "home"
    shutil.copytree(paths.notebooks_dir(), home / "notebooks")
    (home / "paper").mkdir()
    shutil.copy(paths.REPO_ROOT / "paper" / "paper.md.j2", home / "paper")
    (home / "plan.yaml").write_text("steps:\n  base:\n    notebook: 00_base_model.ipynb\n    output: 00_base_model.ipynb\n")
    w |= {"home": home, "plan": home / "plan.yaml"}
    # figures folders with a broken numbers.json or manifest
    numbers = (paths.REPO_ROOT / "figures" / "tiny" / "numbers.json").read_text()
    for name, numbers_text, manifest in (("figures_corrupt", "{bad", None), ("figures_incomplete", "{}", None),
                                         ("figures_bad_manifest", numbers, "{bad")):
        d = root / name / "smoke"
        d.mkdir(parents=True)
        (d / "numbers.json").write_text(numbers_text)
        if manifest is not None:
            (d / "manifest.json").write_text(manifest)
        w[name] = root / name
    return {k: str(v) for k, v in w.items()}


@pytest.fixture(scope="module")
def where(tmp_path_factory, random_model, smoke_tokenizer) -> dict:
    return build_paths(tmp_path_factory.mktemp("cli-errors"), random_model, smoke_tokenizer)


def problems(case, where: dict, tmp: Path, pythonpath: str | None = None) -> tuple[list[str], str]:
    """What is wrong with the CLI's answer to ``case`` (empty if it is right), and its last stderr line.
    ``pythonpath``: import ``scalpel_core`` from another source tree (tests/cli_errors_before.py)."""
    name, argv, overrides, expected = case
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SCALPEL_HOME": where["home"], "SCALPEL_ARTIFACTS": str(tmp / "artifacts"),
           "SCALPEL_FIGURES": str(tmp / "figures")}
    env |= {k: v.format(**where) for k, v in overrides.items()}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([sys.executable, "-m", "scalpel_core.cli", *[a.format(**where) for a in argv.split()]],
                          capture_output=True, text=True, env=env, cwd=tmp, timeout=600)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    wrong = []
    if "Traceback" in done.stderr:
        wrong.append("a traceback")
    if done.returncode != 2:
        wrong.append(f"exit code {done.returncode}")
    if len(lines) != 1:
        wrong.append(f"{len(lines)} lines on stderr")
    texts = (expected,) if isinstance(expected, str) else expected
    if not last.startswith("scalpel: ") or not all(t.format(**where) in last for t in texts):
        wrong.append("the line does not say " + " ... ".join(repr(t.format(**where)) for t in texts))
    return wrong, last


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(case, where, tmp_path):
    wrong, last = problems(case, where, tmp_path)
    assert not wrong, f"{', '.join(wrong)}; last line: {last}"
