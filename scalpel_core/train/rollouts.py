"""GRPO rollouts on the fast decoder: ``trl.GRPOTrainer`` with its generation backend swapped.

Without vLLM, TRL samples the step's completions with ``model.generate`` (left-padded, a dynamic KV
cache, every prompt's system prompt prefilled once per completion). :class:`GRPOTrainer` here keeps
TRL's trainer whole and overrides only ``_generate_single_turn``, the method that turns the step's
prompt ids into completion ids: it samples with :func:`scalpel_core.eval.decoding.decode_ids` (the
shared prefix prefilled once, each problem prefilled once for its ``num_generations`` completions,
finished rows retired), from torch's global generator, which TRL seeds and checkpoints. The same
distribution as TRL's path (temperature, top-p); other draws. It steps aside, to TRL's own path,
with vLLM, TRL's continuous batching, images, or sampling settings it does not implement (top-k,
min-p, a repetition penalty, extra generation kwargs), and when ``rollouts="generate"``.
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer as _TRLGRPOTrainer
from trl.extras.profiling import profiling_context
from trl.models import unwrap_model_for_generation

from ..eval import decoding


def _runs(prompt_ids: list[list[int]]) -> tuple[list[list[int]], int]:
    """Consecutive repeats of one prompt (TRL's sampler repeats each problem ``num_generations``
    times): the distinct prompts and the repeat count, or every prompt with count 1 if uneven."""
    uniq, counts = [], []
    for ids in prompt_ids:
        if uniq and ids == uniq[-1]:
            counts[-1] += 1
        else:
            uniq.append(ids)
            counts.append(1)
    if len(set(counts)) == 1:
        return uniq, counts[0]
    return prompt_ids, 1


class GRPOTrainer(_TRLGRPOTrainer):
    """TRL's GRPOTrainer; rollouts sampled by the fast decoder where it applies (module docstring)."""

    def __init__(self, *args, rollouts: str = "fast", **kwargs):
        super().__init__(*args, **kwargs)
        self.rollouts = rollouts

    def _fast_rollouts(self, images, multimodal_fields) -> bool:
        plain_text = not multimodal_fields and all(i is None for i in images or [])
        own_sampling = not self.top_k and self.min_p is None and self.repetition_penalty == 1.0 \
            and not self.args.generation_kwargs
        return (self.rollouts == "fast" and plain_text and own_sampling and not self.use_vllm
                and not getattr(self, "use_transformers_continuous_batching", False)
                and decoding.supported(self.accelerator.unwrap_model(self.model)))

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if not self._fast_rollouts(images, multimodal_fields):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        uniq, n = _runs(prompt_ids)
        with (
            profiling_context(self, "scalpel.decode"),
            unwrap_model_for_generation(
                self.model_wrapped, self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):
            out = decoding.decode_ids(model, uniq, self.max_completion_length, self.eos_token_ids, n=n,
                                      greedy=False, temperature=self.temperature, top_p=self.top_p, seed=None,
                                      batch_size=max(len(prompt_ids), 1))
        return [c for group in out for c in group], None
