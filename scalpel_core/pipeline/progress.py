"""One switch for every progress bar: ours (tqdm ``progress=`` arguments) and Hugging Face's; and
the relay that prints a notebook kernel's heartbeat lines (:mod:`scalpel_core.heartbeat`) in the
terminal of ``scalpel reproduce`` while papermill shows only its per-cell bar."""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .. import heartbeat


def set_progress(enabled: bool) -> bool:
    """Turn transformers' and datasets' progress bars on or off; returns ``enabled``.

    Batch runs (papermill, nbval) turn them off so executed notebooks hold no bar noise.
    """
    import datasets
    from transformers.utils import logging as hf_logging

    if enabled:
        hf_logging.enable_progress_bar()
        datasets.enable_progress_bars()
    else:
        hf_logging.disable_progress_bar()
        datasets.disable_progress_bars()
    return enabled


@contextmanager
def relay(prefix: str = "", write=None, interval: float = 1.0):
    """While the block runs, the heartbeat lines of any process it starts (a papermill kernel
    inherits the environment) are passed to ``write`` (default: ``tqdm.write``, above the bars),
    each after ``prefix``, within ``interval`` seconds; the rest when the block ends."""
    if write is None:
        from tqdm.auto import tqdm

        write = tqdm.write
    fd, name = tempfile.mkstemp(prefix="scalpel-heartbeat-", suffix=".log")
    os.close(fd)
    file, old = Path(name), os.environ.get(heartbeat.ENV)
    os.environ[heartbeat.ENV] = name
    stop, pos = threading.Event(), [0]

    def pump(final: bool = False) -> None:
        with open(file, "rb") as f:
            f.seek(pos[0])
            chunk = f.read()
        lines = chunk.split(b"\n")
        done = lines if final else lines[:-1]  # a line still being written waits for its newline
        pos[0] += sum(len(ln) + 1 for ln in lines[:-1]) + (len(lines[-1]) if final else 0)
        for ln in done:
            if ln.strip():
                write(prefix + ln.decode("utf-8", "replace"))

    def loop() -> None:
        while not stop.wait(interval):
            pump()

    thread = threading.Thread(target=loop, name="heartbeat-relay", daemon=True)
    thread.start()
    try:
        yield file
    finally:
        stop.set()
        thread.join()
        pump(final=True)
        if old is None:
            os.environ.pop(heartbeat.ENV, None)
        else:
            os.environ[heartbeat.ENV] = old
        file.unlink(missing_ok=True)
