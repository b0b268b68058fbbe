"""Progress lines from inside a notebook kernel to the terminal that runs the plan.

``make reproduce`` executes notebooks with papermill, which shows one bar per cell: a cell that
samples pass@k or scores twenty checkpoints sits for minutes on an unmoving bar. Long work here
writes short lines to the file named by ``$SCALPEL_HEARTBEAT`` (set by the runner,
:func:`scalpel_core.pipeline.progress.relay`, which prints them as they come); with the variable
unset (a notebook in JupyterLab, a test) nothing is written::

    from scalpel_core import heartbeat
    heartbeat.beat("benchmarks 3/21: checkpoint-140")       # one line per model or checkpoint
    tick = heartbeat.Ticker("sampling grpo", total=6400)     # a long loop: a line every 30 s at most
    tick.update(64)
"""

from __future__ import annotations

import os
import time

ENV = "SCALPEL_HEARTBEAT"
EVERY = 30.0  # seconds between two lines of one Ticker


def enabled() -> bool:
    """Whether a runner listens (``$SCALPEL_HEARTBEAT`` names a file)."""
    return bool(os.environ.get(ENV))


def beat(message: str) -> None:
    """Append ``message`` as one line to the runner's file (nothing without a runner)."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(message.replace("\n", " ") + "\n")
    except OSError:  # the runner went away: progress is never worth a failure
        pass


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Ticker:
    """Progress of a loop of ``total`` units: a line every ``every`` seconds at most (done/total,
    elapsed, what is left at the rate so far), and a closing one if it wrote any; a loop shorter
    than ``every`` writes nothing (the many short ones stay quiet)."""

    def __init__(self, what: str, total: int, unit: str = "", every: float | None = None):
        self.what, self.total, self.unit, self.every = what, total, unit, EVERY if every is None else every
        self.done, self.on, self.spoke = 0, enabled(), False
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.on:
            return
        now = time.monotonic()
        if now - self.last >= self.every or (self.spoke and self.done >= self.total):
            self.last, self.spoke = now, True
            spent = now - self.start
            left = spent / self.done * (self.total - self.done) if self.done else 0.0
            beat(f"{self.what}: {self.done}/{self.total}{self.unit} after {_duration(spent)}"
                 + (f", ~{_duration(left)} left" if self.done < self.total else ""))
            if self.done >= self.total:
                self.on = False  # one closing line
