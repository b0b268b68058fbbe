"""The ground floor's shared helpers: one stable JSON hash, one atomic write, one git provenance,
one right-padding, one registry of result tables."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import torch

from scalpel_core import batching, cache, config, paths


def test_json_hash_is_the_hash_every_cache_and_config_was_keyed_by():
    """Keys written before the helpers were merged stay valid: the same bytes are hashed."""
    data = {"b": [1, 2.5, "x"], "a": {"z": None, "y": True}}
    old = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    assert cache.json_hash(data) == old and cache.json_hash(data, 12) == old[:12]
    assert cache.key("kl", 2, "abc") == hashlib.sha256(
        json.dumps(("kl", 2, "abc"), sort_keys=True, default=str).encode()).hexdigest()[:20]
    assert cache.json_hash({"a": 1, "b": 2}) == cache.json_hash({"b": 2, "a": 1})  # key order does not matter
    # fields added later (config.HASHED_WHEN_SET) are left out while off, so a base that leaves them off
    # keeps the hash it had; one that sets them (tiny since world v5) is hashed with them
    for preset in ("tiny", "smoke"):
        cfg = config.load(preset)
        assert cfg.base_hash == cache.json_hash(
            {k: getattr(cfg, k) for k in config.BASE_FIELDS
             if getattr(cfg, k) != config.HASHED_WHEN_SET.get(k, object())}
            | {"_world_version": config.WORLD_VERSION}, 12)


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    paths.atomic_write(target, '{"new": 1}')
    assert json.loads(target.read_text()) == {"new": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_git_commit_says_dirty_only_for_code(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    (tmp_path / "scalpel_core").mkdir()
    (tmp_path / "scalpel_core" / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("hi\n")
    git("add", ".")
    git("commit", "-qm", "init")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    head = paths.git_commit()
    assert len(head) == 40 and not head.endswith("+dirty")
    (tmp_path / "README.md").write_text("changed\n")  # not code
    assert paths.git_commit() == head
    (tmp_path / "scalpel_core" / "a.py").write_text("x = 2\n")
    assert paths.git_commit() == head + "+dirty"
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "scalpel_core" / "nowhere")
    assert paths.git_commit().startswith("unknown")


def test_right_pad_keeps_positions_and_masks_padding():
    ids, mask = batching.right_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert ids.dtype == torch.long and mask.dtype == torch.long


def test_table_registry_names_each_file_once(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path))
    files = [f for f, _ in paths.TABLES.values()]
    assert len(files) == len(set(files))
    assert paths.table_file("tiny", "kl") == tmp_path / "tiny" / "tables" / "kl.csv"
    assert (tmp_path / "tiny" / "tables").is_dir()
    with pytest.raises(KeyError, match="unknown result table 'klx'"):
        paths.table_file("tiny", "klx")
