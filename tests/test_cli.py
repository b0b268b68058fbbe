"""The `scalpel` CLI (the papermill plan runner is tested in test_reproduce.py)."""

import pytest

from scalpel_core import cli


def test_unknown_preset_is_refused_with_choices(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["base", "--preset", "tinyy"])
    assert err.value.code == 2
    assert "invalid choice: 'tinyy'" in capsys.readouterr().err


def test_cli_starts_without_importing_torch():
    """Every error the CLI reports derives from config.ScalpelError, so `scalpel --help` and bad
    input answer at once instead of after loading torch and transformers."""
    import subprocess
    import sys

    code = "import sys, scalpel_core.cli; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_reported_error_is_a_scalpel_error():
    from scalpel_core.checkpoints import CheckpointError
    from scalpel_core.config import ConfigError, PathError, ScalpelError
    from scalpel_core.data.hub import DataError
    from scalpel_core.train.freeze import SpecError
    from scalpel_core.train.runs import RunExistsError
    from scalpel_core.train.trainer import TrainingDivergedError
    from scalpel_core.world.base import BaseModelError

    for cls, builtin in ((ConfigError, ValueError), (SpecError, ValueError), (RunExistsError, RuntimeError),
                         (TrainingDivergedError, RuntimeError), (CheckpointError, RuntimeError),
                         (BaseModelError, RuntimeError), (DataError, ValueError), (PathError, OSError)):
        assert issubclass(cls, ScalpelError) and issubclass(cls, builtin)
