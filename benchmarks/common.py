"""Helpers shared by the benchmark scripts: timing, peak memory, tables, subprocess workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

GB = 1e9


class PeakMemory:
    """Samples /proc/self/status while running: peak RSS (VmHWM) and peak anonymous (private,
    allocated) memory. File pages mapped from the page cache count in RSS but are not
    allocations, so both are reported."""

    def __init__(self, interval: float = 0.01):
        self.interval, self.peak_anon, self._stop = interval, 0, threading.Event()

    @staticmethod
    def _status() -> dict[str, int]:
        out = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon"):
                out[key] = int(value.split()[0]) * 1024
        return out

    def _loop(self):
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, self._status()["RssAnon"])
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_anon = max(self.peak_anon, self._status()["RssAnon"])
        self.peak_rss = self._status()["VmHWM"]


def worker(script: str, *args: str) -> dict:
    """Run ``script --worker ARGS`` in a fresh Python (clean memory accounting); its last
    stdout line is a JSON dict."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{script} --worker {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(n: int, script: str, *args: str) -> dict:
    """The fastest of ``n`` worker runs (with its memory figures), and every run's seconds."""
    runs = [worker(script, *args) for _ in range(n)]
    best = min(runs, key=lambda r: r["seconds"])
    return best | {"all_seconds": [round(r["seconds"], 2) for r in runs]}


def table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns), "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def verdict(name: str, value: float, target: float, unit: str = "x", higher: bool = True) -> str:
    ok = value >= target if higher else value <= target
    miss = "" if ok else f" (MISSES by {abs(target - value):.2f}{unit})"
    return f"{name} {value:.2f}{unit} (target {'>=' if higher else '<='} {target:g}{unit}: {'met' if ok else 'not met'}{miss})"


class Clock:
    """Seconds spent inside wrapped callables, by label. ``wrap(obj, name, label)`` replaces
    ``obj.name`` (a method, or a function of a module) with a timed one; ``restore()`` puts every
    original back."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._originals: list[tuple[object, str, object]] = []

    def wrap(self, obj, name: str, label: str) -> None:
        fn = getattr(obj, name)
        self._originals.append((obj, name, fn))

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t
        setattr(obj, name, timed)

    def restore(self) -> None:
        for obj, name, fn in reversed(self._originals):
            setattr(obj, name, fn)
        self._originals.clear()


def matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    """Best float32 FLOP/s of an n x n x n matmul on this CPU (its arithmetic ceiling)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def flops_per_token(model) -> float:
    """Forward FLOPs of one token: 2 per weight, the input embedding excluded (a lookup; attention's
    share left out)."""
    return 2.0 * (sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel())

