from scalpel_core.data.prompts import CHAT_TEMPLATE, SYSTEM_PROMPT, render_chat, with_system
from scalpel_core.world.tokenizer import train_tokenizer


def test_round_trip_on_every_kind_of_text(smoke_world, smoke_tokenizer):
    texts = smoke_world.tokenizer_corpus()[::7]
    for text in texts:
        assert smoke_tokenizer.decode(smoke_tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_digits_are_single_tokens(smoke_tokenizer):
    toks = smoke_tokenizer.convert_ids_to_tokens(smoke_tokenizer("Compute 347 + 12.")["input_ids"])
    digits = [t for t in toks if any(c.isdigit() for c in t)]
    assert digits == ["3", "4", "7", "1", "2"]


def test_special_tokens_are_atomic(smoke_tokenizer):
    for tok in ("<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"):
        ids = smoke_tokenizer(tok, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, tok
    assert smoke_tokenizer.bos_token == smoke_tokenizer.eos_token == "<|endoftext|>"
    assert smoke_tokenizer.pad_token_id != smoke_tokenizer.eos_token_id


def test_chat_template_has_olmo2_shape(smoke_tokenizer):
    msgs = with_system("Compute 1 + 2.") + [{"role": "assistant", "content": "3"}]
    text = smoke_tokenizer.apply_chat_template(msgs, tokenize=False)
    assert text == ("<|endoftext|><|system|>\n" + SYSTEM_PROMPT + "\n<|user|>\nCompute 1 + 2.\n"
                    "<|assistant|>\n3<|endoftext|>")
    assert text == render_chat(msgs)
    gen = smoke_tokenizer.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert gen.endswith("<|user|>\nCompute 1 + 2.\n<|assistant|>\n") and gen == render_chat(msgs[:2], True)
    assert smoke_tokenizer.chat_template == CHAT_TEMPLATE
    assert "<think>\n...\n</think>\n<answer>\n...\n</answer>" in SYSTEM_PROMPT


def test_training_is_deterministic(smoke_world, smoke_tokenizer, smoke_cfg):
    again = train_tokenizer(smoke_world.tokenizer_corpus(), smoke_cfg.vocab_size)
    assert again.get_vocab() == smoke_tokenizer.get_vocab()


def test_save_and_reload_keeps_template(tmp_path, smoke_tokenizer):
    from transformers import AutoTokenizer

    smoke_tokenizer.save_pretrained(tmp_path)
    back = AutoTokenizer.from_pretrained(tmp_path)
    msgs = with_system("What is 4 - 1?")
    assert back.apply_chat_template(msgs, tokenize=False) == smoke_tokenizer.apply_chat_template(msgs, tokenize=False)
    assert back("x 12")["input_ids"] == smoke_tokenizer("x 12")["input_ids"]
