"""Run the bad-input table of tests/test_cli_errors.py against another source tree of scalpel_core,
to see that each case fails there (it is not a test; pytest does not collect it).

    git archive 0f8630e | tar -x -C /tmp/before      # the code before the one-line errors
    .venv/bin/python tests/cli_errors_before.py /tmp/before

prints one line per case: FAIL (with what was wrong) or PASS, and exits 0 when every case FAILs there.
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import test_cli_errors as table  # noqa: E402


def main(source: str) -> int:
    import torch
    from transformers import Olmo2ForCausalLM

    from scalpel_core import config
    from scalpel_core.world.build import build_world
    from scalpel_core.world.pretrain import model_config
    from scalpel_core.world.tokenizer import train_tokenizer

    cfg = config.load("smoke")
    tokenizer = train_tokenizer(build_world(cfg).tokenizer_corpus(), cfg.vocab_size)
    torch.manual_seed(0)
    model = Olmo2ForCausalLM(model_config(cfg, tokenizer)).eval()
    where = table.build_paths(Path(tempfile.mkdtemp(prefix="cli-errors-")), model, tokenizer)
    passed = 0
    for case in table.CASES:
        wrong, last = table.problems(case, where, Path(tempfile.mkdtemp()), pythonpath=str(Path(source).resolve()))
        passed += not wrong
        print(f"{'PASS' if not wrong else 'FAIL'} {case[0]}: {'; '.join(wrong)} | {last[:160]}", flush=True)
    print(f"{len(table.CASES) - passed} of {len(table.CASES)} cases fail with {source}")
    return 0 if passed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
