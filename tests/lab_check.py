"""`make lab-check`: JupyterLab as a user sees it, in a real (headless) browser.

Starts the Lab server of tests/test_lab.py (tests/labserver.py: notebooks/ of a temporary copy of the
repository, a free localhost port, a token), opens notebooks/00_base_model.ipynb in headless Chromium,
saves a screenshot to artifacts/lab-check.png (and the DOM to artifacts/lab-check.html) and checks, in
that DOM, that Lab rendered
the notebook: its cells, its first heading and the project's kernel. Chromium is the Debian package
`chromium`; it is installed with apt-get when missing and this runs as root, else the check is skipped
with one line saying so. Exit code 0 when the page rendered (or the check was skipped), 1 otherwise.

    .venv/bin/python tests/lab_check.py [--out artifacts/lab-check.png] [--notebook 00_base_model.ipynb]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labserver import REPO, LabServer, _alive, descendants  # noqa: E402

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1400,900"]
BUDGET_MS = 40000  # virtual time for Lab's JavaScript to load, open the notebook and start its kernel


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def install_chromium() -> tuple[str | None, str]:
    """Install Debian's chromium with apt-get if we may; (path or None, why not)."""
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it needs root (apt-get install chromium)"
    if not shutil.which("apt-get"):
        return None, "chromium is not installed and there is no apt-get here to install it"
    print("lab-check: installing chromium (apt-get install -y chromium) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"chromium is not installed and `{' '.join(cmd)}` failed ({last})"
    return find_chromium(), "apt-get installed no chromium binary"


def browse(chromium: str, url: str, extra: list[str], profile: Path, timeout: float = 180) -> str:
    """Run headless Chromium on ``url`` with ``extra`` flags; its stdout. Ends it and its children by id."""
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={BUDGET_MS}", *extra, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [*descendants(proc.pid), proc.pid]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"chromium did not finish within {timeout:.0f} s") from None
    finally:
        for pid in descendants(proc.pid):  # a helper that outlived the browser
            if _alive(pid):
                os.kill(pid, signal.SIGTERM)
    if proc.returncode:
        raise RuntimeError(f"chromium exited with code {proc.returncode}: {err.strip()[-500:]}")
    return out


def rendered(dom: str, notebook: Path) -> list[str]:
    """What the DOM lacks of a rendered notebook (empty when it is all there)."""
    nb = json.loads(notebook.read_text())
    heading = next(line.lstrip("# ").strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                   for line in "".join(c["source"]).splitlines() if line.startswith("#"))
    def element(cls):  # an element of that class (the names also occur in Lab's style sheets)
        return re.compile(rf'<[a-z]+ [^>]*class="(?:[^"]* )?{cls}[ "]')

    n_code = sum(c["cell_type"] == "code" for c in nb["cells"])
    wanted = {"Lab's notebook panel (jp-Notebook)": element("jp-Notebook"),
              "a code cell (jp-CodeCell)": element("jp-CodeCell"),
              "a rendered markdown cell (jp-MarkdownCell)": element("jp-MarkdownCell"),
              f"the notebook's first heading ({heading!r}) as a heading": re.compile(rf"<h1[^>]*>(?:<span[^>]*></span>)?{re.escape(heading)}"),
              "the project's kernel (Python (scalpel-vs-hammer))": re.compile(r">Python \(scalpel-vs-hammer\)<")}
    missing = [what for what, pattern in wanted.items() if not pattern.search(dom)]
    cells = len(element("jp-CodeCell").findall(dom))
    if not missing and not 0 < cells <= n_code:
        missing.append(f"between 1 and {n_code} code cells (found {cells})")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "artifacts" / "lab-check.png"))
    parser.add_argument("--notebook", default="00_base_model.ipynb", help="a notebook under notebooks/")
    args = parser.parse_args(argv)

    chromium = find_chromium()
    if not chromium:
        chromium, why = install_chromium()
        if not chromium:
            print(f"lab-check: skipped: {why}")
            return 0
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lab-check-"))
    t0 = time.time()
    try:
        with LabServer.in_copy_of_repository(tmp) as lab:
            lab.open_session(args.notebook)  # its kernel up before the page opens it, as a moment after in Lab
            url = f"{lab.url}/lab/tree/{args.notebook}?token={lab.token}"
            out.unlink(missing_ok=True)
            browse(chromium, url, [f"--screenshot={out}"], tmp / "profile-shot")
            dom = browse(chromium, url, ["--dump-dom"], tmp / "profile-dom")
            out.with_suffix(".html").write_text(dom)  # beside the screenshot, to look into
            missing = rendered(dom, lab.root / args.notebook)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not out.is_file() or out.stat().st_size < 10_000:
        print(f"lab-check: FAILED: no screenshot at {out}", file=sys.stderr)
        return 1
    if missing:
        print(f"lab-check: FAILED: the page at /lab/tree/{args.notebook} lacks {'; '.join(missing)} "
              f"(screenshot: {out})", file=sys.stderr)
        return 1
    print(f"lab-check: JupyterLab rendered notebooks/{args.notebook} with the project's kernel in "
          f"{Path(chromium).name} ({time.time() - t0:.0f} s); screenshot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
