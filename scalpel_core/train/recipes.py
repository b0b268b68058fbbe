"""Training recipes: flat YAML files, one per model and method (open-r1 style).

    scalpel train --config recipes/paper/grpo.yaml
    accelerate launch --config_file recipes/accelerate/zero3.yaml -m scalpel_core.cli train \\
        --config recipes/paper/grpo.yaml

A recipe names a ``preset`` and may set any field of :class:`scalpel_core.config.Config`
(``method``, ``trainable``, ``learning_rate``, ...). Every other key must be a field of
TRL's ``GRPOConfig`` (method grpo) or ``SFTConfig`` (sft1ep, sft3ep), such as ``use_vllm``,
and is passed to it unchanged. An unknown key is an error that names it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from .. import config, paths
from ..config import Config, ConfigError


def trl_fields(method: str) -> set[str]:
    from trl import GRPOConfig, SFTConfig

    return {f.name for f in dataclasses.fields(GRPOConfig if method == "grpo" else SFTConfig)}


def load_recipe(path: str | Path, **cli_overrides) -> tuple[Config, dict]:
    """``(config, trl_args)`` of a recipe file; ``cli_overrides`` (Config fields) win over it."""
    path = Path(path)
    if not path.is_file() and not path.is_absolute() and (paths.REPO_ROOT / path).is_file():
        path = paths.REPO_ROOT / path  # `recipes/paper/grpo.yaml` works from any directory
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist (see recipes/ for examples)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"recipe {path} is not valid YAML ({' '.join(str(err).split())})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"recipe {path} cannot be read as YAML text ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict) or "preset" not in data:
        raise ConfigError(f"recipe {path} must be a mapping with a 'preset' key "
                          f"(one of {', '.join(config.PRESETS)})")
    data.update({k: v for k, v in cli_overrides.items() if v is not None})
    preset = data.pop("preset")
    ours = {f.name for f in dataclasses.fields(Config)} - {"preset"}
    cfg = config.load(preset, **{k: v for k, v in data.items() if k in ours})
    theirs = trl_fields(cfg.method)
    trl_args = {k: v for k, v in data.items() if k not in ours}
    unknown = sorted(set(trl_args) - theirs)
    if unknown:
        hints = "; ".join(f"{k!r}: {config.suggest(k, ours | theirs) or 'no close match'}".rstrip("? ")
                          for k in unknown)
        raise ConfigError(f"recipe {path}: unknown key(s) {hints}. A key must be a scalpel config "
                          f"field or a field of TRL's {'GRPOConfig' if cfg.method == 'grpo' else 'SFTConfig'}")
    hints = trl_types(cfg.method)
    for key, value in trl_args.items():
        wanted = _wrong_type(value, hints.get(key))
        if wanted:
            raise ConfigError(f"recipe {path}: {key!r} must be {wanted}, got {type(value).__name__} {value!r}")
    return cfg, trl_args


def trl_types(method: str) -> dict:
    """Field -> type hint of TRL's ``GRPOConfig`` (grpo) or ``SFTConfig`` (the SFT methods)."""
    import typing

    from trl import GRPOConfig, SFTConfig

    return typing.get_type_hints(GRPOConfig if method == "grpo" else SFTConfig)


def _wrong_type(value, hint) -> str | None:
    """What ``hint`` wants, if ``value`` (from YAML) is none of it; None if it fits or is not checkable.
    Checked before training, because TRL fails on a wrong type only deep inside the trainer."""
    import enum
    import types
    import typing

    plain = {bool: lambda v: isinstance(v, bool), int: lambda v: isinstance(v, int) and not isinstance(v, bool),
             float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
             str: lambda v: isinstance(v, str), list: lambda v: isinstance(v, list),
             dict: lambda v: isinstance(v, dict), type(None): lambda v: v is None}
    names = []
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for option in typing.get_args(hint) if union else (hint,):
        base = typing.get_origin(option) or option
        if isinstance(base, type) and issubclass(base, enum.Enum):
            base = str  # TRL takes enum members by their string values
        if base not in plain:
            return None  # a type YAML cannot be checked against here (Literal, classes): TRL checks it
        if plain[base](value):
            return None
        names.append("None" if base is type(None) else base.__name__)
    return " or ".join(dict.fromkeys(names)) or None
