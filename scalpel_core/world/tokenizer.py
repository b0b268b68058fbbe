"""The miniature world's tokenizer: a small byte-level BPE trained on the world's own text.

Digits are always single tokens (so arithmetic is learnable), special tokens are
OLMo-2's (``<|endoftext|>`` as BOS and EOS, ``<|pad|>``, role markers), and the chat
template is OLMo-2's (:data:`scalpel_core.prompts.CHAT_TEMPLATE`).
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ..data.prompts import BOS, CHAT_TEMPLATE, EOS, PAD, ROLE_TOKENS

SPECIAL_TOKENS = [BOS, PAD, *ROLE_TOKENS]


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``texts`` (deterministic for the same texts and size)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # generation batches pad on the left
    return fast
