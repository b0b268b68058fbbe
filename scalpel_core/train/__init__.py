"""Post-training with TRL (GRPO, SFT), trainable-parameter specs, recipes and run folders."""
