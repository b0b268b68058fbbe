"""KL(base || checkpoint), teacher-forced: batched float32 equals a float64 batch-size-1
reference, KL(p || p) = 0, padding is masked, and bad input is named."""

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from scalpel_core.lenses import kl
from scalpel_core.checkpoints import CheckpointError
from scalpel_core.cli import main


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALPEL_ARTIFACTS", str(tmp_path / "artifacts"))


@pytest.fixture(scope="module")
def other_model(random_model):
    """A second random model of the same shape: a KL well away from 0."""
    torch.manual_seed(1)
    return type(random_model)(random_model.config).eval()


def _conversations(n=7):
    return [[{"role": "user", "content": f"Calculate {i} + {3 * i}." + " Please." * (i % 3)},
             {"role": "assistant", "content": f"{i} + {3 * i} = {4 * i}. " * (1 + i % 4)}] for i in range(n)]


def _reference(base, model, ids):
    """Batch size 1, float64, the definition written out: mean over positions of
    sum_v p(v) (log p(v) - log q(v))."""
    base, model = base.double(), model.double()
    out = []
    with torch.no_grad():
        for seq in ids:
            x = torch.tensor([seq])
            logp = torch.log_softmax(base(input_ids=x).logits[0], -1)
            logq = torch.log_softmax(model(input_ids=x).logits[0], -1)
            out.append((logp.exp() * (logp - logq)).sum(-1).mean().item())
    base.float(), model.float()
    return np.array(out)


def test_batched_float32_matches_float64_batch_size_1(random_model, other_model, smoke_tokenizer):
    ids = kl.encode(smoke_tokenizer, _conversations())
    assert len({len(s) for s in ids}) > 3  # several lengths, so batches are padded
    got = kl.kl_per_example(random_model, other_model, ids, batch_size=4, pad_id=smoke_tokenizer.pad_token_id)
    ref = _reference(random_model, other_model, ids)
    assert ref.min() > 1e-3
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_allclose(got.mean(), ref.mean(), rtol=1e-5)


def test_the_base_itself_is_not_run_and_scores_zero(tmp_path, random_model, other_model, smoke_tokenizer, monkeypatch):
    """A run's step 0 holds the base's weights: its KL is 0 without a forward pass."""
    random_model.save_pretrained(tmp_path / "base")
    random_model.save_pretrained(tmp_path / "step0")
    other_model.save_pretrained(tmp_path / "other")
    calls = []
    real = kl.kl_per_example
    monkeypatch.setattr(kl, "kl_per_example", lambda *a, **k: calls.append(1) or real(*a, **k))
    t = kl.curve(tmp_path / "base", [("s0", tmp_path / "step0"), ("o", tmp_path / "other")], _conversations(3),
                 smoke_tokenizer, device="cpu", progress=False)
    assert calls == [1] and t.kl.tolist()[0] == 0.0 and t.kl.tolist()[1] > 1e-3
    ids = kl.encode(smoke_tokenizer, _conversations(3))
    assert np.abs(kl.kl_per_example(random_model, random_model, ids)).max() == 0.0  # what running it would give


def test_kl_of_a_model_with_itself_is_zero(random_model, smoke_tokenizer):
    ids = kl.encode(smoke_tokenizer, _conversations())
    got = kl.kl_per_example(random_model, random_model, ids, batch_size=3)
    assert np.abs(got).max() < 1e-7


def test_cached_base_log_probs_give_the_same_result(random_model, other_model, smoke_tokenizer):
    ids = kl.encode(smoke_tokenizer, _conversations())
    store = {}
    first = kl.kl_per_example(random_model, other_model, ids, batch_size=4, base_cache=store)
    assert sorted(store, key=str) == [0, 1, "prefix"]  # 7 sequences in batches of 4, and the shared prefix
    again = kl.kl_per_example(torch.nn.Identity(), other_model, ids, batch_size=4, base_cache=store)
    np.testing.assert_array_equal(first, again)


def test_the_shared_prefix_runs_once_and_changes_nothing(random_model, other_model, smoke_tokenizer):
    """With the authors' template every conversation starts with the system prompt: it is run once
    per model (its KV cache reused by every batch), and the result equals the unshared computation
    and the float64 batch-size-1 reference."""
    ids = kl.encode(smoke_tokenizer, _conversations(), "authors")
    n = kl.shared_prefix(ids)
    assert n > 20 and all(seq[:n] == ids[0][:n] for seq in ids)
    calls = []
    hook = other_model.register_forward_pre_hook(lambda m, a, k: calls.append(k["input_ids"].shape), with_kwargs=True)
    try:
        shared = kl.kl_per_example(random_model, other_model, ids, batch_size=4)
    finally:
        hook.remove()
    assert calls[0] == (1, n) and all(c[1] <= max(map(len, ids)) - n for c in calls[1:])  # suffixes only
    plain = kl.kl_per_example(random_model, other_model, ids, batch_size=4, share_prefix=False)
    np.testing.assert_allclose(shared, plain, rtol=1e-5)
    np.testing.assert_allclose(shared, _reference(random_model, other_model, ids), rtol=1e-5)
    assert kl.shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2  # each keeps a token of its own
    assert kl.shared_prefix([[5, 2, 3], [1, 2, 3]]) == 0 and kl.shared_prefix([[1, 2, 3]]) == 0


def test_mismatched_vocabularies_are_refused(random_model, smoke_tokenizer):
    cfg = random_model.config.__class__(**{**random_model.config.to_dict(), "vocab_size": 600})
    other = type(random_model)(cfg).eval()
    ids = kl.encode(smoke_tokenizer, _conversations(2))
    with pytest.raises(kl.KLError, match="vocabularies differ: base 512 logits, checkpoint 600"):
        kl.kl_per_example(random_model, other, ids)


def _folder(model, tokenizer, path):
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_curve_caches_and_reports_non_finite_checkpoints(tmp_path, random_model, other_model, smoke_tokenizer,
                                                         monkeypatch):
    base = _folder(random_model, smoke_tokenizer, tmp_path / "base")
    ckpt = _folder(other_model, smoke_tokenizer, tmp_path / "ckpt")
    conv = _conversations()
    table = kl.curve(base, [("base", base), ("ckpt", ckpt)], conv, smoke_tokenizer, batch_size=4, device="cpu",
                     progress=False)
    ref = _reference(random_model, other_model, kl.encode(smoke_tokenizer, conv)).mean()
    assert table.kl.tolist()[0] == 0 and table.kl.tolist()[1] == pytest.approx(ref, rel=1e-5)
    with monkeypatch.context() as m:
        m.setattr(kl, "kl_per_example", lambda *a, **k: pytest.fail("recomputed although cached"))
        pd.testing.assert_frame_equal(kl.curve(base, [("base", base), ("ckpt", ckpt)], conv, smoke_tokenizer,
                                               device="cpu", progress=False), table)
    state = load_file(ckpt / "model.safetensors")
    state["model.layers.0.self_attn.q_proj.weight"][0, 0] = float("nan")
    save_file(state, ckpt / "model.safetensors", metadata={"format": "pt"})
    # NaN weights need not show in the logits (attention can mask them): the weights are checked
    with pytest.raises(CheckpointError, match=r"checkpoint .*ckpt: tensor 'model\.layers\.0\.self_attn\.q_proj"
                                              r"\.weight' holds 1 NaN and 0 inf"):
        kl.curve(base, [("ckpt", ckpt)], conv, smoke_tokenizer, device="cpu", progress=False)


def test_non_finite_logits_are_reported_not_averaged(random_model, smoke_tokenizer, monkeypatch):
    class Broken(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, **kwargs):
            out = random_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            if len(input_ids) > 1:  # a batch (not the shared prefix)
                out.logits[0, 1, 0] = float("inf")
            return out

    ids = kl.encode(smoke_tokenizer, _conversations(3))
    per = kl.kl_per_example(random_model, Broken(), ids, batch_size=3, device="cpu")
    assert np.isnan(per).sum() == 1  # one conversation's mean, not silently dropped


def test_cli_kl_on_a_local_math500(tmp_path, random_model, other_model, smoke_tokenizer, math500_file):
    base = _folder(random_model, smoke_tokenizer, tmp_path / "base")
    ckpt = _folder(other_model, smoke_tokenizer, tmp_path / "ckpt")
    out = tmp_path / "kl.csv"
    assert main(["kl", str(base), str(base), str(ckpt), "--data", str(math500_file), "--limit", "4",
                 "--out", str(out), "--device", "cpu"]) == 0
    table = pd.read_csv(out)
    assert table.checkpoint.tolist() == [str(base), str(ckpt)] and table.n.tolist() == [4, 4]
    assert table.kl[0] == 0 and table.kl[1] > 0


def test_the_authors_rendering_injects_the_system_prompt(smoke_tokenizer, random_model, other_model):
    """kl_template 'authors': the system prompt injected, `<|user|>` with no newline (their training
    template); 'olmo': [user, assistant] only; None: the tokenizer's own. The system prompt's tokens
    are averaged over too, so the same two models give another mean KL."""
    from scalpel_core.data.prompts import SYSTEM_PROMPT

    conv = _conversations(3)
    texts = {t: [smoke_tokenizer.decode(s) for s in kl.encode(smoke_tokenizer, conv, t)] for t in ("authors", "olmo", None)}
    problem = conv[0][0]["content"]
    assert texts["authors"][0].startswith(f"<|endoftext|><|system|>\n{SYSTEM_PROMPT}\n<|user|>{problem}\n<|assistant|>\n")
    assert texts["olmo"][0].startswith(f"<|endoftext|><|user|>\n{problem}\n<|assistant|>\n")
    assert SYSTEM_PROMPT not in texts["olmo"][0] and texts[None] == texts["olmo"]  # the miniature's own is OLMo-2's
    means = {t: kl.kl_per_example(random_model, other_model, kl.encode(smoke_tokenizer, conv, t)).mean()
             for t in ("authors", "olmo")}
    assert abs(means["authors"] - means["olmo"]) > 1e-3 * means["olmo"]
    with pytest.raises(kl.KLError, match="unknown KL template 'theirs'"):
        kl.encode(smoke_tokenizer, conv, "theirs")
