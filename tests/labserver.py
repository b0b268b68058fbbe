"""A real JupyterLab server for tests and `make lab-check`: started headless on a free localhost port
with a token, in a temporary copy of the repository, and stopped by process id.

    with LabServer.in_copy_of_repository(tmp) as lab:   # repository copied to tmp/repo, Lab on its notebooks/
        lab.get("/api/kernelspecs")                      # the REST API, with the token
        nb, cwd = lab.execute("00_base_model.ipynb", {"preset": "smoke", "progress": False})

``execute`` runs a notebook as a Lab user does: a session the server starts for the notebook's path
(so the kernel's working directory is the notebook's folder, as Lab sets it), the project's kernel,
code sent over the kernel's websocket (``/api/kernels/<id>/channels``), after papermill's
injected-parameters cell. The kernel, the server and anything either started are stopped by
process id when the block ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KERNEL = "scalpel-vs-hammer"  # registered in the venv by `make install`
# What a copy of the repository leaves out: the venv, git, caches and git-ignored artifacts
SKIP = shutil.ignore_patterns(".venv", ".git", "artifacts", "__pycache__", ".pytest_cache", "*.egg-info",
                              ".ipynb_checkpoints")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Process ids of every living descendant of ``pid`` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class LabError(RuntimeError):
    pass


class LabServer:
    """``jupyter lab`` serving ``root`` (``notebooks/`` of ``home``), with ``env`` added to its environment."""

    def __init__(self, root: Path, workdir: Path, env: dict | None = None, python: str = sys.executable):
        self.root, self.workdir, self.python = Path(root), Path(workdir), python
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "lab-server.log"
        jupyter = self.workdir / "jupyter"  # config, runtime, settings and workspaces of this server only
        self.env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
                    "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
                    "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "lab-settings"),
                    "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "lab-workspaces"),
                    "JUPYTER_PLATFORM_DIRS": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.pids: set[int] = set()  # every process the server started (kernels), seen while it ran

    @classmethod
    def in_copy_of_repository(cls, tmp: Path, env: dict | None = None) -> LabServer:
        """A server on ``tmp/repo/notebooks`` (as `make lab`), the repository copied to ``tmp/repo``;
        its kernels import that copy's scalpel_core and write artifacts and figures under ``tmp``."""
        tmp = Path(tmp)
        home = tmp / "repo"
        shutil.copytree(REPO, home, ignore=SKIP)
        environment = {"SCALPEL_HOME": str(home), "PYTHONPATH": str(home),
                       "SCALPEL_ARTIFACTS": str(tmp / "artifacts"), "SCALPEL_FIGURES": str(tmp / "figures"),
                       "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env or {})}
        return cls(home / "notebooks", tmp, environment)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 180) -> LabServer:
        settings = Path(self.env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)  # no "receive Jupyter news?" question in a test
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        cmd = [self.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise LabError(f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get("/api/status")
                return self
            except (OSError, LabError):
                time.sleep(0.5)
        self.stop()
        raise LabError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> list[int]:
        """Shut every kernel down through the API, stop the server, then end any process it started
        that is still there, by process id. Returns the ids that had to be killed."""
        if self.proc is None:
            return []
        pid = self.proc.pid
        self.pids |= set(descendants(pid))
        if self.proc.poll() is None:
            try:
                for kernel in self.get("/api/kernels"):
                    self.request("DELETE", f"/api/kernels/{kernel['id']}")
                self.request("POST", "/api/shutdown")
            except (OSError, LabError):
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(pid, signal.SIGKILL)
                    self.proc.wait()
        killed = []
        for child in sorted(self.pids):
            if _alive(child):
                killed.append(child)
                os.kill(child, signal.SIGTERM)
        time.sleep(1 if killed else 0)
        for child in killed:
            if _alive(child):
                os.kill(child, signal.SIGKILL)
        self.proc = None
        return killed

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # -- REST API ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                text = resp.read().decode()
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raise LabError(f"{method} {path}: HTTP {err.code} {err.read()[:300]!r}") from err
        return json.loads(text) if text and "json" in ctype else text

    def get(self, path: str):
        return self.request("GET", path)

    # -- running a notebook as a Lab user does --------------------------------------------------
    def open_session(self, notebook: str, kernel: str = KERNEL) -> dict:
        """The session Lab opens for ``notebook`` (a path under the root): the server starts ``kernel``
        in the notebook's folder. Returns once the kernel answers."""
        session = self.request("POST", "/api/sessions", {"path": notebook, "type": "notebook", "name": notebook,
                                                         "kernel": {"name": kernel}})
        self.pids |= set(descendants(self.proc.pid))
        with KernelChannel(self, session["kernel"]["id"]):
            pass  # kernel_info answered: the kernel is up
        return session

    def execute(self, notebook: str, parameters: dict, kernel: str = KERNEL, timeout: float = 600):
        """Execute ``notebook`` (a path under the server's root) with papermill's parameters cell
        injected, through a kernel the server starts for it; returns ``(executed notebook, kernel cwd)``."""
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = load_notebook_node(str(self.root / notebook))  # as papermill reads it (every cell has tags)
        nb = parameterize_notebook(nb, parameters, kernel_name=kernel, language="python")
        session = self.open_session(notebook, kernel)
        try:
            with KernelChannel(self, session["kernel"]["id"]) as channel:
                cwd = channel.run("import os; print(os.getcwd(), end='')", timeout=120)[0]["text"]
                end = time.time() + timeout
                for cell in nb.cells:
                    if cell.cell_type == "code":
                        cell.outputs = channel.run(cell.source, timeout=max(1.0, end - time.time()))
                        cell.execution_count = channel.count
        finally:
            self.request("DELETE", f"/api/sessions/{session['id']}")
        return nb, cwd


class KernelChannel:
    """The kernel's websocket (``/api/kernels/<id>/channels``), JSON messages of protocol 5.3."""

    def __init__(self, lab: LabServer, kernel_id: str):
        self.lab, self.kernel_id, self.session = lab, kernel_id, uuid.uuid4().hex
        self.count = None

    def __enter__(self) -> KernelChannel:
        import websocket

        url = self.lab.url.replace("http", "ws") + f"/api/kernels/{self.kernel_id}/channels?session_id={self.session}"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {self.lab.token}"], timeout=30)
        self._request("kernel_info_request", {}, timeout=120)
        return self

    def __exit__(self, *exc) -> None:
        self.ws.close()

    def _send(self, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": "test", "session": self.session,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}))
        return msg_id

    def _messages(self, msg_id: str, timeout: float):
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise LabError(f"no answer from kernel {self.kernel_id} within {timeout:.0f} s")
            self.ws.settimeout(left)
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                yield msg

    def _request(self, msg_type: str, content: dict, timeout: float) -> dict:
        msg_id = self._send(msg_type, content)
        for msg in self._messages(msg_id, timeout):
            if msg["channel"] == "shell":
                return msg
        raise AssertionError("unreachable")

    def run(self, code: str, timeout: float) -> list:
        """Execute ``code``; its outputs as nbformat output nodes (errors included), once the kernel is idle."""
        import nbformat

        msg_id = self._send("execute_request", {"code": code, "silent": False, "store_history": True,
                                                "user_expressions": {}, "allow_stdin": False,
                                                "stop_on_error": True})
        outputs, idle, replied = [], False, False
        for msg in self._messages(msg_id, timeout):
            kind = msg["msg_type"]
            if msg["channel"] == "shell" and kind == "execute_reply":
                replied, self.count = True, msg["content"].get("execution_count")
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))
            elif kind == "clear_output":
                outputs = []
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            if idle and replied:
                return outputs
        return outputs
