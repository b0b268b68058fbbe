"""The `scalpel` CLI (the papermill plan runner is tested in test_reproduce.py)."""

import pytest

from scalpel_core import cli


def test_unknown_preset_is_refused_with_choices(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["base", "--preset", "tinyy"])
    assert err.value.code == 2
    msg = capsys.readouterr().err
    assert "unknown preset 'tinyy'; did you mean 'tiny'?" in msg and "smoke, tiny, gpu-small, paper" in msg
    with pytest.raises(SystemExit):
        cli.main(["calibrate", "--preset", "smoke-w0"])
    assert "unknown preset 'smoke-w0'" in capsys.readouterr().err
    assert cli.main(["calibrate", "--preset", "paper-w1"]) == 2  # a known family: refused in one line
    assert "world draws exist in the miniature world only" in capsys.readouterr().err


def test_a_world_draw_is_a_preset_of_the_cli(capsys):
    """`--preset smoke-w1` names world draw 1 of smoke: accepted, and its plan is that draw's only."""
    assert cli._preset("smoke-w1") == "smoke-w1"
    assert cli.main(["reproduce", "--preset", "smoke-w1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "plan of 'smoke-w1'" in out and "plan of 'smoke'" not in out


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
