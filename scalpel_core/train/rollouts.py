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

It also logs ``groups/zero_reward_variance``, the share of the step's groups whose rewards are all
equal, read off the advantages with a tolerance (:func:`zero_variance_groups`). TRL's own
``frac_reward_zero_std`` (TRL 1.16) compares the group's float32 standard deviation with 0 at an
absolute tolerance of 1e-8, and a group of equal rewards that are not exact in binary (0.2, 1.2 with
the format weight 0.2) has a rounding std of 1.6e-8 to 1.3e-7: such groups count as informative, and
the metric reads about 0 where a third or more of the groups carry no signal.
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


ZERO_TOL = 0.01  # |advantage| below this in a whole group: equal rewards. Equal rewards give at most
# ~1e-7 (unscaled) or ~1e-3 (divided by std + 1e-4); any real difference at least 0.2 / G (unscaled,
# the format reward alone) or ~0.35 (scaled)


def zero_variance_groups(advantages: torch.Tensor, group: int) -> torch.Tensor | None:
    """Per group of ``group`` consecutive completions: 1.0 where every advantage is ~0 (all rewards equal),
    else 0.0; None when the completions do not split into whole groups."""
    a = advantages.detach().float().reshape(-1)
    if group < 2 or a.numel() == 0 or a.numel() % group:
        return None
    return (a.view(-1, group).abs().amax(dim=1) < ZERO_TOL).float()


class GRPOTrainer(_TRLGRPOTrainer):
    """TRL's GRPOTrainer; rollouts sampled by the fast decoder where it applies (module docstring)."""

    def __init__(self, *args, rollouts: str = "fast", **kwargs):
        super().__init__(*args, **kwargs)
        self.rollouts = rollouts

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if self.model.training:  # the whole step's groups: every process's slice, in the sampler's order
            zero = zero_variance_groups(self.accelerator.gather(out["advantages"].detach()), self.num_generations)
            if zero is not None:
                self._metrics["train"]["groups/zero_reward_variance"].append(zero.mean().item())
        return out

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
