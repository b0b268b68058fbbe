"""Weight change per layer x matrix, streamed from safetensors: exact values on known
perturbations, sharded and bf16 checkpoints, the content-hash cache, and bad input."""

import math

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from scalpel_core.lenses import weights
from scalpel_core.cli import main
from scalpel_core.arch import MATRICES

Q1 = "model.layers.1.self_attn.q_proj.weight"


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))  # the cache lives here


def _save(model, path, **kw):
    model.save_pretrained(path, **kw)
    return path


def _perturbed(random_model, tmp_path, name="ckpt", delta=0.01, tensor=Q1):
    state = {k: v.clone() for k, v in random_model.state_dict().items()}
    state[tensor] += delta
    model = type(random_model)(random_model.config)
    model.load_state_dict(state)
    return _save(model, tmp_path / name)


def _value(table, layer, matrix, metric, checkpoint=None):
    t = table if checkpoint is None else table[table.checkpoint == checkpoint]
    return t[(t.layer == layer) & (t.matrix == matrix) & (t.metric == metric)].value.item()


def test_identical_checkpoints_change_nothing(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    table = weights.compare(base, [base], ["same"], progress=False)
    n_layers = random_model.config.num_hidden_layers
    assert len(table) == n_layers * len(MATRICES) * 3
    assert list(table.columns) == ["checkpoint", "layer", "matrix", "metric", "value"]
    assert (table.value == 0).all()


def test_known_perturbation_gives_the_expected_norms(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    ckpt = _perturbed(random_model, tmp_path, delta=0.01)
    table = weights.compare(base, [ckpt], progress=False)
    w = random_model.state_dict()[Q1].double()
    expected = 0.01 * math.sqrt(w.numel())
    assert _value(table, 1, "q", "frobenius") == pytest.approx(expected, rel=1e-5)
    assert _value(table, 1, "q", "rms") == pytest.approx(0.01, rel=1e-5)
    assert _value(table, 1, "q", "rel_frobenius") == pytest.approx(expected / w.norm().item(), rel=1e-5)
    others = table[~((table.layer == 1) & (table.matrix == "q"))]
    assert (others.value == 0).all()


def test_the_base_among_the_checkpoints_changes_nothing_else(tmp_path, random_model):
    """A run lists its base (step 0) first; reading the same tensor twice must not alias."""
    base = _save(random_model, tmp_path / "base")
    ckpt = _perturbed(random_model, tmp_path, delta=0.01)
    alone = weights.compare(base, [ckpt], ["c"], use_cache=False, progress=False)
    both = weights.compare(base, [base, ckpt], ["b", "c"], use_cache=False, progress=False)
    assert (both[both.checkpoint == "b"].value == 0).all()
    pd.testing.assert_frame_equal(both[both.checkpoint == "c"].reset_index(drop=True), alone)


def test_sharded_and_single_file_checkpoints_agree(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    ckpt = _perturbed(random_model, tmp_path, delta=0.02, tensor="model.layers.0.mlp.down_proj.weight")
    sharded = _save(type(random_model).from_pretrained(ckpt), tmp_path / "sharded", max_shard_size="20KB")
    assert len(list(sharded.glob("*.safetensors"))) > 2 and (sharded / "model.safetensors.index.json").is_file()
    a = weights.compare(base, [ckpt], ["x"], use_cache=False, progress=False)
    b = weights.compare(base, [sharded], ["x"], use_cache=False, progress=False)
    pd.testing.assert_frame_equal(a, b)


def test_bf16_checkpoints_are_compared_in_float32(tmp_path, random_model):
    state = {k: v.to(torch.bfloat16) for k, v in random_model.state_dict().items()}
    for name, delta in (("base", 0.0), ("ckpt", 0.25)):
        (tmp_path / name).mkdir()
        save_file({k: v + delta if k == Q1 else v for k, v in state.items()},
                  tmp_path / name / "model.safetensors", metadata={"format": "pt"})
    table = weights.compare(tmp_path / "base", [tmp_path / "ckpt"], progress=False)
    w0 = load_file(tmp_path / "base" / "model.safetensors")[Q1]
    w1 = load_file(tmp_path / "ckpt" / "model.safetensors")[Q1]
    assert w1.dtype == torch.bfloat16
    expected = (w1.double() - w0.double()).norm().item()  # bf16 rounding of (w + 0.25) included
    assert _value(table, 1, "q", "frobenius") == pytest.approx(expected, rel=1e-6)


def test_results_are_cached_by_content(tmp_path, random_model, monkeypatch):
    base = _save(random_model, tmp_path / "base")
    ckpt = _perturbed(random_model, tmp_path, delta=0.01)
    first = weights.compare(base, [ckpt], ["c"], progress=False)

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    with monkeypatch.context() as m:
        m.setattr(weights, "_stream", boom)
        pd.testing.assert_frame_equal(weights.compare(base, [ckpt], ["c"], progress=False), first)
    _perturbed(random_model, tmp_path, delta=0.03)  # same folder, new content: recomputed
    again = weights.compare(base, [ckpt], ["c"], progress=False)
    assert _value(again, 1, "q", "rms") == pytest.approx(0.03, rel=1e-5)


def test_missing_tensor_is_named(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    ckpt = _save(random_model, tmp_path / "ckpt")
    state = load_file(ckpt / "model.safetensors")
    del state["model.layers.0.mlp.up_proj.weight"]
    save_file(state, ckpt / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(weights.WeightsError, match=r"lacks tensor 'model\.layers\.0\.mlp\.up_proj\.weight'"):
        weights.compare(base, [ckpt], progress=False)


def test_different_architectures_name_the_tensor_and_shapes(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    other_cfg = random_model.config.__class__(**{**random_model.config.to_dict(), "intermediate_size": 96})
    other = _save(type(random_model)(other_cfg), tmp_path / "other")
    with pytest.raises(weights.WeightsError, match=r"gate_proj\.weight' is \[96, 64\].*different architectures"):
        weights.compare(base, [other], progress=False)
    deeper_cfg = random_model.config.__class__(**{**random_model.config.to_dict(), "num_hidden_layers": 3})
    deeper = _save(type(random_model)(deeper_cfg), tmp_path / "deeper")
    with pytest.raises(weights.WeightsError, match=r"model\.layers\.2\..* that the base .* lacks"):
        weights.compare(base, [deeper], progress=False)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_reported_with_checkpoint_and_tensor(tmp_path, random_model, bad):
    base = _save(random_model, tmp_path / "base")
    ckpt = _save(random_model, tmp_path / "ckpt")
    state = load_file(ckpt / "model.safetensors")
    state["model.layers.1.mlp.down_proj.weight"][3, 5] = bad
    save_file(state, ckpt / "model.safetensors", metadata={"format": "pt"})
    kind = "1 NaN and 0 inf" if math.isnan(bad) else "0 NaN and 1 inf"
    with pytest.raises(weights.WeightsError, match=rf"checkpoint .*ckpt: tensor 'model\.layers\.1\.mlp\.down_proj\.weight' holds {kind}"):
        weights.compare(base, [ckpt], progress=False)


def test_not_a_model_folder_is_a_clear_error(tmp_path, random_model):
    base = _save(random_model, tmp_path / "base")
    (tmp_path / "empty").mkdir()
    with pytest.raises(weights.WeightsError, match="holds no \\*.safetensors"):
        weights.compare(base, [tmp_path / "empty"], progress=False)
    with pytest.raises(weights.WeightsError, match="is not a folder"):
        weights.compare(base, [tmp_path / "nope" / "ckpt"], progress=False)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00garbage")
    with pytest.raises(weights.WeightsError, match="cannot read .*corrupt"):
        weights.compare(base, [tmp_path / "corrupt"], progress=False)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_cli_writes_the_tidy_table(tmp_path, random_model, ext, capsys):
    base = _save(random_model, tmp_path / "base")
    ckpt = _perturbed(random_model, tmp_path, delta=0.01)
    out = tmp_path / f"changes.{ext}"
    assert main(["weights", str(base), str(ckpt), str(base), "--out", str(out)]) == 0
    table = pd.read_csv(out) if ext == "csv" else pd.read_parquet(out)
    assert list(table.columns) == ["checkpoint", "layer", "matrix", "metric", "value"]
    assert set(table.metric) == {"rel_frobenius", "frobenius", "rms"}
    assert table.checkpoint.unique().tolist() == [str(ckpt), str(base)]
    assert _value(table, 1, "q", "rms", str(ckpt)) == pytest.approx(0.01, rel=1e-5)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, random_model, capsys):
    base = _save(random_model, tmp_path / "base")
    assert main(["weights", str(base), str(base), "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "must be .csv or .parquet" in capsys.readouterr().err
    for command in ("weights", "kl"):  # the output name is checked before anything is read
        assert main([command, str(tmp_path / "nowhere"), str(base), "--out", str(tmp_path / "x.xlsx")]) == 2
        assert "x.xlsx: the extension must be .csv or .parquet" in capsys.readouterr().err
    assert main(["weights", str(base), str(tmp_path / "missing"), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "missing is not a folder" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_hub_ids_are_resolved_through_the_hub_and_fail_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(weights.WeightsError, match="not found locally and the hub is unreachable.*pass a local path"):
        weights.resolve("someone/not-cached-model")
