"""Content hashes of checkpoints, and a small on-disk cache of results keyed by them.

Analyses (weight changes, KL, benchmark scores) are cached under the hash of what they
read, so a plot never recomputes and an overwritten checkpoint is never served stale.

- A file's digest is its SHA-256. Files in the Hugging Face hub cache are stored under
  their SHA-256 already (``blobs/<sha256>``), so those cost nothing; other files are hashed
  once and the digest is remembered by (path, inode, size, mtime) in ``artifacts/cache/digests.json``
  (not for files written in the last two seconds, whose mtime may not yet tell a rewrite apart).
- A checkpoint's digest hashes the digests of its ``*.safetensors`` files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

from . import paths

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
RACY_SECONDS = 2.0  # files modified more recently than this are hashed every time
_memo: dict[str, str] = {}


def _sha256(file: Path) -> str:
    with open(file, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cache_dir(kind: str) -> Path:
    """``artifacts/cache/{kind}/`` (created)."""
    path = paths.artifacts_dir() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest_book() -> Path:
    return paths.artifacts_dir() / "cache" / "digests.json"


def file_digest(file: Path) -> str:
    """SHA-256 of ``file``'s bytes (free for hub-cache blobs, hashed once otherwise)."""
    real = Path(os.path.realpath(file))
    if _HEX64.match(real.name) and real.parent.name == "blobs":  # huggingface_hub stores blobs by hash
        return real.name
    st = real.stat()
    key = f"{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    if time.time() - st.st_mtime < RACY_SECONDS:
        # Written just now: a rewrite within the same clock tick could keep size and mtime, so a
        # remembered digest could go stale (git's "racily clean" problem). Hash, do not remember.
        return _sha256(real)
    if key in _memo:
        return _memo[key]
    book = _digest_book()
    known = json.loads(book.read_text()) if book.is_file() else {}
    if key not in known:
        known[key] = _sha256(real)
        book.parent.mkdir(parents=True, exist_ok=True)
        paths.atomic_write(book, json.dumps(known, indent=0))
    _memo[key] = known[key]
    return known[key]


def checkpoint_digest(folder: Path) -> str:
    """Hash of every ``*.safetensors`` file of a checkpoint folder (names and contents)."""
    h = hashlib.sha256()
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no *.safetensors files")
    for f in files:
        h.update(f"{f.name}:{file_digest(f)}\n".encode())
    return h.hexdigest()


def json_hash(data, length: int | None = None) -> str:
    """SHA-256 (hex, first ``length`` digits) of ``data`` as JSON with sorted keys; what JSON cannot
    hold is written as ``str()``. The one stable hash of settings, configs and cache keys."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:length]


def key(*parts) -> str:
    """A short cache key from any JSON-serialisable parts."""
    return json_hash(parts, 20)
