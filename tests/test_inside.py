"""Inside the model: update sparsity (in the weight lens's single read), update rank, principal-
subspace rotation and spectrum shift, and the attention shift per layer x head, each against a
float64 oracle written out here."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from scalpel_core.arch import MATRICES
from scalpel_core.lenses import attention, spectra, weights

Q1 = "model.layers.1.self_attn.q_proj.weight"


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))


def _saved(model, path, state=None, dtype=None):
    m = type(model)(model.config)
    m.load_state_dict(state if state is not None else model.state_dict())
    if dtype is not None:
        m = m.to(dtype)
    m.save_pretrained(path)
    return path


def _sparse_update(state, seed=3, density=0.3, scale=1e-2):
    """A copy of ``state`` with a random ``density`` of every projection's entries moved."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in state.items():
        if k.endswith("_proj.weight"):
            mask = torch.rand(v.shape, generator=g) < density
            step = scale * torch.randn(v.shape, generator=g) * v.abs().clamp_min(1e-3)
            out[k] = torch.where(mask, v + step, v)
        else:
            out[k] = v.clone()
    return out


def _value(table, layer, matrix, metric):
    return table[(table.layer == layer) & (table.matrix == matrix) & (table.metric == metric)].value.item()


# --- sparsity ---------------------------------------------------------------------------------

def _oracle_sparsity(w, c):
    w, c = w.numpy(), c.numpy()
    wd, cd = w.astype(np.float64), c.astype(np.float64)
    bf = lambda a: torch.from_numpy(a).to(torch.bfloat16).to(torch.float64).numpy()  # noqa: E731
    return {"frac_unchanged": (w.view(np.int32) == c.view(np.int32)).mean(),
            "frac_unchanged_bf16": (bf(w) == bf(c)).mean(),
            "frac_within_tol": (np.abs(cd - wd) <= 1e-3 * np.maximum(np.abs(wd), np.abs(cd))).mean()}


def test_sparsity_matches_a_float64_oracle_in_the_same_read(tmp_path, random_model):
    state = random_model.state_dict()
    moved = _sparse_update(state)
    base, ckpt = _saved(random_model, tmp_path / "base"), _saved(random_model, tmp_path / "ckpt", moved)
    table = weights.compare(base, [ckpt], ["c"], progress=False, metrics=weights.METRICS + weights.SPARSITY)
    assert set(table.metric) == set(weights.METRICS + weights.SPARSITY)
    for name in (Q1, "model.layers.0.mlp.down_proj.weight"):
        layer, matrix = int(name.split(".")[2]), name.split(".")[-2].split("_")[0]
        want = _oracle_sparsity(state[name], moved[name])
        assert 0.6 < want["frac_unchanged"] < 0.8  # the test's 30% of entries moved
        assert want["frac_unchanged"] < want["frac_unchanged_bf16"] < 1  # bf16 hides the smallest steps
        for metric, value in want.items():
            assert _value(table, layer, matrix, metric) == pytest.approx(value, abs=1e-12)
    # the default table keeps the three change metrics only; the cached read serves both
    plain = weights.compare(base, [ckpt], ["c"], progress=False)
    assert set(plain.metric) == set(weights.METRICS)
    with pytest.raises(weights.WeightsError, match="unknown weight metric"):
        weights.compare(base, [ckpt], progress=False, metrics=("sparsity",))


def test_bitwise_is_not_value_equality_and_bf16_checkpoints_work(tmp_path, random_model):
    state = {k: v.clone() for k, v in random_model.state_dict().items()}
    base = _saved(random_model, tmp_path / "base")
    flipped = {k: v.clone() for k, v in state.items()}
    w = flipped[Q1]
    w[w == 0] = 1.0  # no exact zeros in the tensor
    flipped[Q1] = w
    ref = _saved(random_model, tmp_path / "ref", flipped)
    negzero = {k: v.clone() for k, v in flipped.items()}
    negzero[Q1] = flipped[Q1].clone()
    negzero[Q1][0, 0] = 0.0
    a = {k: v.clone() for k, v in negzero.items()}
    a[Q1][0, 0] = -0.0  # equal values, other bits
    t = weights.compare(_saved(random_model, tmp_path / "z", negzero), [_saved(random_model, tmp_path / "nz", a)],
                        progress=False, metrics=weights.SPARSITY)
    assert _value(t, 1, "q", "frac_unchanged") == pytest.approx(1 - 1 / state[Q1].numel())
    assert _value(t, 1, "q", "frac_within_tol") == 1.0
    b16 = weights.compare(_saved(random_model, tmp_path / "b16base", dtype=torch.bfloat16),
                          [_saved(random_model, tmp_path / "b16", _sparse_update(state), torch.bfloat16)],
                          progress=False, metrics=weights.SPARSITY)
    assert ((b16.value > 0.5) & (b16.value < 1)).all()
    assert ref.is_dir() and base.is_dir()


# --- rank, rotation, spectrum -----------------------------------------------------------------

def _oracle_spectra(w, c):
    """float64 numpy: the definitions of lenses/spectra.py written out."""
    w, c = w.double().numpy(), c.double().numpy()
    d = (torch.from_numpy(c).float() - torch.from_numpy(w).float()).double().numpy()
    s_d = np.linalg.svd(d, compute_uv=False)
    tol = s_d[0] * max(d.shape) * np.finfo(np.float32).eps
    energy = np.cumsum(s_d ** 2)
    out = {"rank_fraction": (s_d > tol).sum() / min(d.shape),
           "effective_rank_fraction": (np.searchsorted(energy, 0.99 * energy[-1]) + 1) / min(d.shape)}
    uw, sw, vw = np.linalg.svd(w, full_matrices=False)
    uc, sc, vc = np.linalg.svd(c, full_matrices=False)
    out["spectrum_shift"] = np.linalg.norm(sc - sw) / np.linalg.norm(sw)
    for f in (0.01, 0.05, 0.10):
        r = max(1, round(f * min(w.shape)))
        for side, a, b in (("left", uw[:, :r], uc[:, :r]), ("right", vw[:r].T, vc[:r].T)):
            ang = np.degrees(np.arccos(np.clip(np.linalg.svd(a.T @ b, compute_uv=False), 0, 1)))
            out[f"{side}_angle_max@{f:.0%}"] = ang.max()
            out[f"{side}_angle_mean@{f:.0%}"] = ang.mean()
    return out


def _low_rank_update(state, rank=3, scale=0.05, seed=5):
    g = torch.Generator().manual_seed(seed)
    out = {k: v.clone() for k, v in state.items()}
    for k, v in state.items():
        if k.endswith("_proj.weight"):
            m, n = v.shape
            out[k] = v + scale * v.norm() / (m * n) ** 0.5 * torch.randn(m, rank, generator=g) @ torch.randn(rank, n, generator=g)
    return out


def test_spectra_match_a_float64_oracle(tmp_path, random_model):
    state = random_model.state_dict()
    moved = _low_rank_update(state)
    base, ckpt = _saved(random_model, tmp_path / "base"), _saved(random_model, tmp_path / "ckpt", moved)
    table = spectra.compare(base, [ckpt], ["c"], progress=False)
    n_layers = random_model.config.num_hidden_layers
    assert len(table) == n_layers * len(MATRICES) * len(spectra.METRICS)
    for name in (Q1, "model.layers.0.mlp.up_proj.weight"):
        layer, matrix = int(name.split(".")[2]), name.split(".")[-2].split("_")[0]
        want = _oracle_spectra(state[name], moved[name])
        assert want["rank_fraction"] * min(state[name].shape) == 3  # the update's rank, as built
        for metric, value in want.items():
            assert _value(table, layer, matrix, metric) == pytest.approx(value, rel=1e-6, abs=1e-6), metric
        assert want["left_angle_max@10%"] > 0.5  # a visible rotation, not only rounding


def test_an_unchanged_matrix_has_rank_zero_and_no_rotation(tmp_path, random_model):
    base = _saved(random_model, tmp_path / "base")
    table = spectra.compare(base, [base], ["same"], progress=False)
    assert (table.value.abs() < 1e-5).all()
    with pytest.raises(weights.WeightsError, match="unknown svd"):
        spectra.compare(base, [base], svd="fast", progress=False)


def test_randomized_subspaces_agree_with_full_on_a_decaying_spectrum():
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(300, 300, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(200, 200, generator=g, dtype=torch.float64))
    s = 0.8 ** torch.arange(200, dtype=torch.float64)
    w = (u[:, :200] * s) @ v.T
    c = w + 1e-3 * torch.randn(300, 200, generator=g, dtype=torch.float64)
    w, c = w.float(), c.float()
    full = spectra.matrix_metrics(spectra._Basis(w, 20, "full"), w, c, "full")
    fast = spectra.matrix_metrics(spectra._Basis(w, 20, "randomized"), w, c, "randomized")
    for k in full:
        assert fast[k] == pytest.approx(full[k], rel=0.05, abs=0.05), k


# --- attention --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def eager_pair(random_model):
    base = type(random_model)(copy.deepcopy(random_model.config)).eval()
    base.load_state_dict(random_model.state_dict())
    torch.manual_seed(1)
    other = type(random_model)(copy.deepcopy(random_model.config)).eval()
    with torch.no_grad():  # a checkpoint near the base: q and k moved, the rest kept
        other.load_state_dict({k: v + (0.3 * torch.randn_like(v) * v.std() if ("q_proj" in k or "k_proj" in k) else 0)
                               for k, v in random_model.state_dict().items()})
    for m in (base, other):
        m.set_attn_implementation("eager")
    return base, other


def _conversations(n=6):
    return [[{"role": "user", "content": f"Calculate {i} + {3 * i}." + " Please." * (i % 3)},
             {"role": "assistant", "content": f"{i} + {3 * i} = {4 * i}. " * (1 + i % 4)}] for i in range(n)]


def _oracle_attention(base, model, ids):
    """float64, one conversation at a time, every row written out as a loop over query positions."""
    base, model = base.double(), model.double()
    per = []
    with torch.no_grad():
        for seq in ids:
            x = torch.tensor([seq])
            pa = base(input_ids=x, output_attentions=True).attentions
            qa = model(input_ids=x, output_attentions=True).attentions
            conv = np.zeros((len(pa), pa[0].shape[1], 3))
            for layer, (p, q) in enumerate(zip(pa, qa)):
                for h in range(p.shape[1]):
                    vals = []
                    for t in range(1, len(seq)):
                        a, b = p[0, h, t, : t + 1].numpy(), q[0, h, t, : t + 1].numpy()
                        m = (a + b) / 2
                        kl = lambda x, y: float(np.sum(np.where(x > 0, x * np.log(np.where(x > 0, x, 1) / y), 0)))  # noqa: E731
                        ent = lambda x: -float(np.sum(np.where(x > 0, x * np.log(np.where(x > 0, x, 1)), 0)))  # noqa: E731
                        vals.append(((kl(a, m) + kl(b, m)) / 2 / np.log(2), ent(a), ent(b)))
                    conv[layer, h] = np.mean(vals, 0)
            per.append(conv)
    base.float(), model.float()
    return np.array(per)


def test_attention_shift_matches_a_float64_oracle(eager_pair, smoke_tokenizer):
    base, other = eager_pair
    ids = attention.encode(smoke_tokenizer, _conversations())
    assert len({len(s) for s in ids}) > 3  # padded batches
    got = attention.shift_per_example(base, other, ids, batch_size=4, pad_id=smoke_tokenizer.pad_token_id)
    ref = _oracle_attention(base, other, ids)
    assert ref[..., 0].min() > 1e-4  # the attention did move
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-6)
    assert attention.shared_prefix(ids) >= 2  # the chat template's shared start runs once ...
    alone = attention.shift_per_example(base, other, ids, batch_size=4, pad_id=smoke_tokenizer.pad_token_id,
                                        share_prefix=False)  # ... and equals running it every time
    np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-8)
    many = attention.shifts(base, [other, base], ids, batch_size=4, pad_id=smoke_tokenizer.pad_token_id)
    np.testing.assert_allclose(many[0], got, rtol=1e-6, atol=1e-9)  # one base pass for several models
    same = attention.shift_per_example(base, base, ids, batch_size=4, pad_id=smoke_tokenizer.pad_token_id)
    assert np.abs(same[..., 0]).max() < 1e-6
    np.testing.assert_allclose(same[..., 1], same[..., 2])


def test_attention_refuses_a_model_without_weights(random_model, smoke_tokenizer):
    sdpa = type(random_model)(copy.deepcopy(random_model.config)).eval()  # the config is shared otherwise
    sdpa.set_attn_implementation("sdpa")
    ids = attention.encode(smoke_tokenizer, _conversations(2))
    with pytest.raises(attention.KLError, match="eager"):
        attention.shift_per_example(sdpa, sdpa, ids)


def test_attention_compare_on_saved_checkpoints_is_cached(tmp_path, eager_pair, smoke_tokenizer):
    base, other = eager_pair
    base.save_pretrained(tmp_path / "base")
    other.save_pretrained(tmp_path / "ckpt")
    convs = _conversations()
    t = attention.compare(tmp_path / "base", [("c", tmp_path / "ckpt")], convs, smoke_tokenizer, 4,
                          device="cpu", progress=False)
    n_layers, n_heads = base.config.num_hidden_layers, base.config.num_attention_heads
    assert len(t) == n_layers * n_heads and list(t.columns) == attention.COLUMNS
    ref = _oracle_attention(base, other, attention.encode(smoke_tokenizer, convs)).mean(0)
    np.testing.assert_allclose(t.jsd.to_numpy(), ref[..., 0].ravel(), rtol=2e-4)
    again = attention.compare(tmp_path / "base", [("c", tmp_path / "ckpt")], convs, smoke_tokenizer, 4,
                              device="cpu", progress=False)
    pd.testing.assert_frame_equal(t, again)
