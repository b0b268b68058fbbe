"""Build, cache and load the miniature base model of a preset.

    scalpel base --preset tiny            # build if missing, else reuse the cache
    scalpel base --preset tiny --rebuild  # build again from scratch

The base lives in ``artifacts/{preset}/base/{config_hash}/`` (HF layout, safetensors,
the tokenizer, the pretraining log, the skill log) and ``base_meta.json``, written last (with the
world version), marks it complete.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from .. import paths
from ..cache import json_hash
from ..checkpoints import safetensors_problem
from ..config import BASE_FIELDS, WORLD_VERSION, Config, ScalpelError, require_world
from .build import World, build_world
from .pretrain import pretrain
from .tokenizer import train_tokenizer

META = "base_meta.json"
SKILL_LOG = "skill_log.csv"  # skill against pretraining steps (every 10%), when a probe was given
SELECTION_LOG = "selection_log.csv"  # greedy accuracy on the selection split every 5% (select_greedy > 0)
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", META)


# The modules that generate the world and pretrain its base (not this cache, nor the display code):
# a change to them changes the world, so it must come with a new WORLD_VERSION (config.py).
GENERATOR_MODULES = ("build", "facts", "instructions", "maths", "pretrain", "tokenizer")


def world_code_digest() -> str:
    """Short sha256 of the world generator's source (:data:`GENERATOR_MODULES`, line endings
    normalised): recorded in each base's metadata, and pinned to WORLD_VERSION by config.WORLD_CODE."""
    return json_hash({name: (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8").replace("\r\n", "\n")
                      for name in GENERATOR_MODULES}, 12)


class BaseModelError(ScalpelError, RuntimeError):
    """A base checkpoint that is missing, incomplete or corrupt."""


def rebuild_command(preset: str) -> str:
    return f"scalpel base --preset {preset} --rebuild   (or: make base PRESET={preset})"


def base_path(cfg: Config) -> Path:
    return paths.base_dir(cfg.preset, cfg.base_hash)


def build_base(cfg: Config, rebuild: bool = False, progress: bool = True, world: World | None = None,
               skill=None, select=None) -> Path:
    """Return the directory of the base of ``cfg``, pretraining it first if it is not cached.

    ``skill(model, tokenizer, world)``, if given, returns a dict of scores; it runs every 10% of
    pretraining and its rows (with ``step``) are saved as :data:`SKILL_LOG`.

    With ``cfg.select_greedy > 0`` (the world v4 candidate's base-selection rule), ``select(model,
    tokenizer, world)`` returns the greedy accuracy on ``world.select``; it runs every 5% and the
    base is the first checkpoint where it reaches ``cfg.select_greedy`` (pretraining stops there),
    else the last. Its rows are saved as :data:`SELECTION_LOG`; the metadata names the step kept.
    """
    require_world(cfg, "mini", f"preset {cfg.preset!r} starts from a released model ({cfg.base_model}); "
                  "only the miniature presets (smoke, tiny) pretrain a base. Load it with "
                  "scalpel_core.worlds.load_base instead.")
    path = base_path(cfg)
    if (path / META).exists() and not rebuild:
        check_base(path, cfg.preset)
        return path
    selecting = cfg.select_greedy > 0
    if selecting and select is None:
        raise ValueError("select_greedy > 0 needs a select(model, tokenizer, world) scorer "
                         "(scalpel_core.worlds.build_base passes one)")
    world = world or build_world(cfg)
    tokenizer = train_tokenizer(world.tokenizer_corpus(), cfg.vocab_size)
    skills: list[dict] = []
    selection: list[dict] = []
    tenth = max(1, cfg.pretrain_steps // 10)

    def checkpoint(step, m) -> bool:
        if skill is not None and step % tenth == 0:
            skills.append({"step": step, **skill(m, tokenizer, world)})
        if not selecting:
            return False
        selection.append({"step": step, "select_greedy": select(m, tokenizer, world)})
        return selection[-1]["select_greedy"] >= cfg.select_greedy

    hook = checkpoint if skill is not None or selecting else None
    model, log = pretrain(cfg, world.pretrain_docs, tokenizer, progress=progress, callback=hook,
                          every=20 if selecting else 10)
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    pd.DataFrame(log).to_csv(tmp / "pretrain_log.csv", index=False)
    if skills:
        pd.DataFrame(skills).to_csv(tmp / SKILL_LOG, index=False)
    if selection:
        pd.DataFrame(selection).to_csv(tmp / SELECTION_LOG, index=False)
    meta = {
        "config_hash": cfg.base_hash,
        "world_version": WORLD_VERSION,
        "world_code": world_code_digest(),
        "preset": cfg.preset,
        "config": {k: getattr(cfg, k) for k in BASE_FIELDS},
        "git_commit": paths.git_commit(),
        "pretrain_seconds": round(log[-1]["seconds"], 1),
        "final_loss": sum(r["loss"] for r in log[-20:]) / min(20, len(log)),
        "steps_trained": len(log),  # < pretrain_steps when the base-selection rule stopped it
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if selection:
        meta["selection"] = {"threshold": cfg.select_greedy, "step": len(log),
                             "greedy": selection[-1]["select_greedy"],
                             "reached": selection[-1]["select_greedy"] >= cfg.select_greedy}
    (tmp / META).write_text(json.dumps(meta, indent=2))
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def check_base(path: Path, preset: str) -> dict:
    """Validate a base directory; raise :class:`BaseModelError` naming the path and the fix."""
    path = Path(path)
    hint = rebuild_command(preset)
    if not path.is_dir():
        raise BaseModelError(f"no base model at {path}; build it with: {hint}")
    for name in REQUIRED:
        if not (path / name).is_file():
            raise BaseModelError(f"base model at {path} is incomplete: {path / name} is missing; "
                                 f"rebuild it with: {hint}")
    weights = path / "model.safetensors"
    problem = safetensors_problem(weights)
    if problem:
        raise BaseModelError(f"base model weights {weights} are corrupt ({problem}); rebuild them with: {hint}")
    try:
        meta = json.loads((path / META).read_text())
    except json.JSONDecodeError as err:
        raise BaseModelError(f"{path / META} is corrupt ({err}); rebuild it with: {hint}") from err
    built_by = meta.get("world_code") if isinstance(meta, dict) else None
    now = world_code_digest() if built_by else None  # bases built before the digest was recorded pass
    if built_by and built_by != now:
        raise BaseModelError(f"base model at {path} was pretrained by other world generator code (digest "
                             f"{built_by}, now {now}): a change to scalpel_core/world/ changes "
                             f"the world, so bump WORLD_VERSION in scalpel_core/config.py (a new base for every "
                             f"preset), or rebuild this one with: {hint}")
    return meta


def load_base(path: Path, preset: str):
    """(model, tokenizer) of a base directory, after :func:`check_base`."""
    from transformers import AutoTokenizer, Olmo2ForCausalLM

    check_base(path, preset)
    try:
        model = Olmo2ForCausalLM.from_pretrained(path)
    except Exception as err:  # noqa: BLE001 - any load failure is reported with its fix
        raise BaseModelError(f"cannot load the base model at {path} ({err}); rebuild it with: "
                             f"{rebuild_command(preset)}") from err
    return model.eval(), AutoTokenizer.from_pretrained(path)
