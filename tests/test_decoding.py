"""The fast decoder: greedy completions identical to ``model.generate`` on the smoke and tiny bases,
seeded sampling that is reproducible and draws from the model's distribution, GRPO rollouts."""

import os

import pytest
import torch

from scalpel_core import config
from scalpel_core.eval import decoding
from scalpel_core.eval.analogues import BRIDGE_TOKENS
from scalpel_core.eval.generation import generate, generate_plain, sample


def _benchmark_prompts(world):
    """Every generated analogue: (name, prompts, prefixes, max_new_tokens)."""
    b = world.benchmarks
    out = [(n, [it["prompt"] for it in b[n]], None) for n in ("aime24", "math500", "gsm8k", "ifeval")]
    out.append(("gpqa", [it["prompt"] for it in b["gpqa"]], [it["chain_prefix"] for it in b["gpqa"]]))
    return out


def _assert_same_greedy(model, tokenizer, world, max_new_tokens, rows=(512, 7)):
    for name, prompts, prefixes in _benchmark_prompts(world):
        budget = BRIDGE_TOKENS if name == "gpqa" else max_new_tokens
        ref = generate_plain(model, tokenizer, prompts, budget, 64, prefixes=prefixes)
        for r in rows:  # one chunk, and many small chunks (each with its own shared prefix)
            got = generate(model, tokenizer, prompts, budget, r, prefixes=prefixes)
            diff = [i for i, (a, b) in enumerate(zip(ref, got)) if a != b]
            assert not diff, f"{name} rows={r}: {len(diff)} completions differ, first {ref[diff[0]]!r} vs {got[diff[0]]!r}"


def _chat_ids(tokenizer, prompt) -> list[int]:
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    return ids["input_ids"] if hasattr(ids, "keys") else ids


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@pytest.mark.slow
def test_greedy_equals_model_generate_on_the_smoke_base(smoke_base, smoke_world, smoke_cfg):
    model, tokenizer = _load(smoke_base)
    assert decoding.supported(model)
    _assert_same_greedy(model, tokenizer, smoke_world, smoke_cfg.max_new_tokens)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A base of the tiny preset (its world, tokenizer and 8-layer shape), pretrained for 60 steps
    instead of its schedule so the test stays short: it answers, and runs on past its answers. It keeps
    tiny's world (selection split included) but not the selection rule, which needs a scorer."""
    from scalpel_core.world.base import build_base
    from scalpel_core.world.build import build_world

    cfg = config.load("tiny", pretrain_steps=60, select_greedy=0.0)
    root = tmp_path_factory.mktemp("tiny-base")
    old = os.environ.get("SCALPEL_ARTIFACTS")
    os.environ["SCALPEL_ARTIFACTS"] = str(root)
    try:
        world = build_world(cfg)
        return build_base(cfg, progress=False, world=world), world, cfg
    finally:
        os.environ.pop("SCALPEL_ARTIFACTS") if old is None else os.environ.__setitem__("SCALPEL_ARTIFACTS", old)


@pytest.mark.slow
def test_greedy_equals_model_generate_on_a_tiny_base(tiny_base):
    path, world, cfg = tiny_base
    model, tokenizer = _load(path)
    _assert_same_greedy(model, tokenizer, world, 64, rows=(512,))


def test_greedy_equals_model_generate_when_no_row_stops(random_model, smoke_tokenizer, smoke_world):
    """A random model never says its end token: every row runs to the budget, nothing is retired."""
    prompts = [it["prompt"] for it in smoke_world.benchmarks["math500"][:12]]
    ref = generate_plain(random_model, smoke_tokenizer, prompts, 40, 5)
    assert generate(random_model, smoke_tokenizer, prompts, 40, 5) == ref
    assert generate(random_model, smoke_tokenizer, prompts, 40, 512) == ref


def test_finished_rows_stop_at_their_end_token(smoke_base, smoke_world):
    model, tokenizer = _load(smoke_base)
    ids = [_chat_ids(tokenizer, it["prompt"]) for it in smoke_world.benchmarks["math500"][:20]]
    out = decoding.decode_ids(model, ids, 96, tokenizer.eos_token_id, batch_size=8)
    lengths = [len(c[0]) for c in out]
    for c in out:
        assert tokenizer.eos_token_id not in c[0][:-1]  # nothing after the end token
    assert any(c[0][-1] == tokenizer.eos_token_id for c in out) and min(lengths) < max(lengths)


def test_sampling_is_reproducible_from_its_seed(random_model, smoke_tokenizer, smoke_world):
    prompts = [it["prompt"] for it in smoke_world.benchmarks["math500"][:6]]
    a = sample(random_model, smoke_tokenizer, prompts, 4, 12, temperature=1.0, seed=3)
    b = sample(random_model, smoke_tokenizer, prompts, 4, 12, temperature=1.0, seed=3)
    c = sample(random_model, smoke_tokenizer, prompts, 4, 12, temperature=1.0, seed=4)
    assert a == b and a != c
    assert [len(x) for x in a] == [4] * 6
    assert len({s for x in a for s in x}) > 6  # samples of one prompt differ


def _first_token_law(model, tokenizer, prompt, temperature):
    ids = _chat_ids(tokenizer, prompt)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
    return ids, torch.softmax(logits / temperature, -1)


@pytest.mark.parametrize("temperature", [0.6, 1.5])
def test_sampled_first_tokens_follow_the_tempered_softmax(random_model, smoke_tokenizer, smoke_world, temperature):
    prompt = smoke_world.benchmarks["math500"][0]["prompt"]
    ids, law = _first_token_law(random_model, smoke_tokenizer, prompt, temperature)
    n = 4000
    other = [ids[:1] + [ids[1] if len(ids) > 1 else ids[0]]]  # a second prompt so a shared prefix exists
    out = decoding.decode_ids(random_model, [ids] + other, 1, -1, n=n, greedy=False, temperature=temperature,
                              seed=0, batch_size=8192)
    counts = torch.bincount(torch.tensor([c[0] for c in out[0]]), minlength=law.numel()).float()
    freq = counts / n
    top = law.argsort(descending=True)[:5]
    # each of the 5 likeliest tokens within 4 standard errors of its probability
    se = (law[top] * (1 - law[top]) / n).sqrt()
    assert ((freq[top] - law[top]).abs() <= 4 * se + 1e-3).all(), (freq[top], law[top])


def test_top_p_keeps_only_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    draw = decoding._sampler(False, 1.0, 0.7, torch.Generator().manual_seed(0))
    picks = {draw(logits).item() for _ in range(300)}
    assert picks == {0, 1}  # 0.5 + 0.3 covers 0.7; the tail is never drawn


def test_unsupported_models_fall_back_to_model_generate(random_model, smoke_tokenizer, smoke_world, monkeypatch):
    prompts = [it["prompt"] for it in smoke_world.benchmarks["math500"][:4]]
    ref = generate_plain(random_model, smoke_tokenizer, prompts, 10, 64)
    monkeypatch.setattr(decoding, "supported", lambda model: False)
    called = []
    monkeypatch.setattr(decoding, "decode_ids", lambda *a, **k: called.append(1))
    assert generate(random_model, smoke_tokenizer, prompts, 10) == ref and not called


def test_sampling_needs_a_positive_temperature(random_model):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        decoding.decode_ids(random_model, [[0, 1], [0, 2]], 2, 0, greedy=False, temperature=0.0)


def test_decoding_leaves_the_model_as_it_found_it(random_model):
    random_model.train()
    impl = random_model.config._attn_implementation
    try:
        decoding.decode_ids(random_model, [[0, 5, 6], [0, 7]], 3, -1)
        assert random_model.training and random_model.config._attn_implementation == impl
    finally:
        random_model.eval()


def test_supported_refuses_sliding_window_and_encoder_decoder(random_model):
    assert decoding.supported(random_model)
    cfg = random_model.config
    cfg.layer_types = ["sliding_attention"] * cfg.num_hidden_layers
    try:
        assert not decoding.supported(random_model)
    finally:
        cfg.layer_types = None
    cfg.attn_logit_softcapping = 50.0
    try:
        assert not decoding.supported(random_model)
    finally:
        del cfg.attn_logit_softcapping
    assert not decoding.supported(torch.nn.Linear(2, 2))


def test_rollouts_group_repeated_prompts():
    from scalpel_core.train.rollouts import _runs

    assert _runs([[1], [1], [2], [2]]) == ([[1], [2]], 2)
    assert _runs([[1], [1], [2]]) == ([[1], [1], [2]], 1)  # uneven: every prompt its own row


@pytest.mark.slow
def test_grpo_samples_its_rollouts_with_the_fast_decoder(artifacts, monkeypatch):
    """A smoke GRPO run takes its completions from decode_ids (and trains); rollouts='generate' does not."""
    from scalpel_core.train import trainer

    calls = []
    real = decoding.decode_ids

    def spy(model, prompts, *a, **k):
        calls.append((len(prompts), k.get("n"), k.get("seed", "unset")))
        return real(model, prompts, *a, **k)

    monkeypatch.setattr(decoding, "decode_ids", spy)
    cfg = config.load("smoke", method="grpo", train_steps=2, n_checkpoints=1)
    run = trainer.train(cfg, progress=False)
    assert calls and all(n == cfg.num_generations and seed is None for _, n, seed in calls)
    assert calls[0][0] == cfg.problems_per_step  # each problem prefilled once
    from scalpel_core.checkpoints import list_checkpoints, step_name

    assert (run / step_name(2)).is_dir() and len(list_checkpoints(run)) == 2
    calls.clear()
    trainer.train(config.load("smoke", method="grpo", train_steps=2, n_checkpoints=1, rollouts="generate"),
                  run="grpo-generate", progress=False)
    assert not calls


def test_bf16_models_decode_with_a_float32_softmax(random_model, smoke_tokenizer, smoke_world):
    """The dtype a GPU run uses: completions of the budget's length, mostly those of model.generate
    (bf16 rounding differs between the two attention paths, so not all of them need agree)."""
    import copy

    model = copy.deepcopy(random_model).to(torch.bfloat16)
    prompts = [it["prompt"] for it in smoke_world.benchmarks["math500"][:8]]
    ref = generate_plain(model, smoke_tokenizer, prompts, 16, 8)
    got = generate(model, smoke_tokenizer, prompts, 16)
    assert len(got) == 8 and sum(a == b for a, b in zip(ref, got)) >= 4
